import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testDatabaseKind } from '../helpers/database.js';
import { fixturePath, REPOSITORY_ROOT } from '../helpers/fixtures.js';
import { buildOnce, killLeftovers, runCli } from '../helpers/server.js';

/**
 * `linpath plane` and `linpath curve` as a user runs them: the compiled command in real processes, hosting the
 * embedded database and S3 server of a fresh LINPATH_HOME, numbers against the PyTorch references of
 * test/fixtures/landscape/mlp.json (5000 test points, within 1e-5).
 */
interface ReferencePoint {
  x?: number;
  y?: number;
  t?: number;
  loss: number;
}
const mlp = JSON.parse(readFileSync(path.join(REPOSITORY_ROOT, 'test/fixtures/landscape/mlp.json'), 'utf8')) as {
  planes: { three: { points: ReferencePoint[] } };
  curves: { bezier: { points: ReferencePoint[] } };
};

beforeAll(() => buildOnce(), 180_000);
afterAll(killLeftovers);

describe.skipIf(testDatabaseKind() === 'postgres')('linpath plane and linpath curve', () => {
  let home: string;
  let env: Record<string, string>;
  const ids = { init: '', epoch5: '', final: '' };
  beforeAll(async () => {
    home = mkdtempSync(path.join(tmpdir(), 'linpath-landscape-cli-'));
    env = { LINPATH_HOME: home, LINPATH_DEMO: '0' };
    for (const [name, role, step] of [
      ['init', 'initial', '0'],
      ['epoch5', 'intermediate', '100'],
      ['final', 'final', '1200'],
    ] as const) {
      const result = await runCli(
        [
          'import',
          'checkpoint',
          fixturePath(`mlp/${name}.safetensors`),
          '--run',
          'cli-plane',
          '--step',
          step,
          '--role',
          role,
          '--arch',
          'mlp',
        ],
        env,
      );
      expect(result.code, result.stderr).toBe(0);
      ids[name] = result.json.checkpoint.id;
    }
    const dataset = await runCli(
      ['import', 'dataset', fixturePath('mlp/test_set.safetensors'), '--name', 'spiral', '--split', 'test'],
      env,
    );
    expect(dataset.code, dataset.stderr).toBe(0);
  }, 180_000);
  afterAll(() => rmSync(home, { recursive: true, force: true }));

  it('prints a 5×5 plane through three checkpoints as JSON, CSV and a table; a grid over 51 exits 2', async () => {
    const args = [
      'plane',
      '--center',
      ids.init,
      '--x-state',
      ids.final,
      '--y-state',
      ids.epoch5,
      '--dataset',
      'spiral:test',
      '--resolution',
      '5',
    ];
    const json = await runCli([...args, '--json'], env);
    expect(json.code, json.stderr).toBe(0);
    expect(json.json).toMatchObject({ kind: 'THREE_STATES', status: 'COMPLETE', xs: [-0.5, 0, 0.5, 1, 1.5] });
    for (const point of mlp.planes.three.points) {
      const i = json.json.xs.indexOf(point.x);
      const j = json.json.ys.indexOf(point.y);
      expect(Math.abs(json.json.loss[j][i] - point.loss), `(${point.x}, ${point.y})`).toBeLessThanOrEqual(1e-5);
    }
    const csv = await runCli([...args, '--csv'], env);
    expect(csv.code, csv.stderr).toBe(0);
    const rows = csv.stdout.trim().split('\n');
    expect(rows[0]).toBe('i,j,x,y,loss,accuracy,correct,n,point');
    expect(rows).toHaveLength(26);
    expect(rows.slice(1).every((row) => row.endsWith(',stored'))).toBe(true);
    const table = await runCli(args, env);
    expect(table.code, table.stderr).toBe(0);
    expect(table.stdout).toMatch(/^plane \S+ \(three states, COMPLETE: 25\/25 points stored\)\n/);
    expect(table.stdout).toContain('the line A → B is the row y = 0');
    expect(table.stdout).toMatch(/cost: 0 of 25 points to compute/);

    const big = await runCli([...args.slice(0, -1), '60'], env);
    expect(big.code).toBe(2);
    expect(big.stderr).toMatch(
      /^linpath: BAD_USER_INPUT: resolution: expected an integer from 2 to 51 .* got 60 \(60×60 = 3600 points\)/,
    );
  }, 180_000);

  it('prints a Bezier curve next to the straight line', async () => {
    const ts = mlp.curves.bezier.points.map((p) => p.t!);
    const args = [
      'curve',
      '--from',
      ids.init,
      '--bend',
      ids.epoch5,
      '--to',
      ids.final,
      '--ts',
      ts.join(','),
      '--dataset',
      'spiral:test',
    ];
    const json = await runCli([...args, '--json'], env);
    expect(json.code, json.stderr).toBe(0);
    expect(json.json).toMatchObject({ kind: 'BEZIER', status: 'COMPLETE', lineStatus: 'COMPLETE' });
    json.json.points.forEach((p: { t: number; loss: number; lineLoss: number }, i: number) => {
      expect(p.t).toBe(ts[i]);
      expect(Math.abs(p.loss - mlp.curves.bezier.points[i]!.loss)).toBeLessThanOrEqual(1e-5);
      expect(typeof p.lineLoss).toBe('number');
    });
    const table = await runCli(args, env);
    expect(table.code, table.stderr).toBe(0);
    expect(table.stdout).toMatch(/\ncurve barrier: .*rise/);
    expect(table.stdout).toMatch(/\nline barrier: .*rise/);
  }, 180_000);
});

import { createHash, randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVALUATE_QUEUE } from '../../src/queue/eval-queue.js';
import { planeUpdates } from '../../src/usecases/landscapes/plane-updates.js';
import { importCheckpointFile } from '../../src/usecases/registry/checkpoints.usecases.js';
import { importDatasetFile } from '../../src/usecases/registry/datasets.usecases.js';
import { postGraphql, startTestApp, type TestApp } from '../helpers/app.js';
import { describeWithFixtures, fixturePath, REPOSITORY_ROOT, RESNET18_FIXTURES } from '../helpers/fixtures.js';

/**
 * Loss planes and curves (issue 20) over HTTP, through the queue, on a real database (PGlite, or Postgres with
 * DATABASE_URL) and the S3 server: the numbers against the PyTorch references of test/fixtures/landscape/
 * (scripts/make-landscape-fixtures.py), the memo (asking again computes nothing, a finer grid only the missing
 * points), directions as derived checkpoints, and coded errors.
 */
interface ReferencePoint {
  x?: number;
  y?: number;
  t?: number;
  coefficients: number[];
  loss: number;
  correct: number;
  n: number;
  nearBoundary: number;
}
interface ReferencePlane {
  states: string[];
  points: ReferencePoint[];
  projection?: number;
  xLength?: number;
  yLength?: number;
}
interface LandscapeReference {
  directions: Record<'x' | 'y', { sha256Linpath: string }>;
  planes: { three: ReferencePlane; orthogonal: ReferencePlane; directions: ReferencePlane };
  curves: Record<'bezier' | 'polychain', { states: string[]; points: ReferencePoint[] }>;
}
const reference = (model: 'mlp' | 'resnet18') =>
  JSON.parse(
    readFileSync(path.join(REPOSITORY_ROOT, `test/fixtures/landscape/${model}.json`), 'utf8'),
  ) as LandscapeReference;

/** The tolerance of the issue: PyTorch's mean loss within 1e-5. */
const LOSS_TOLERANCE = 1e-5;

const PLANE = `query ($input: LossPlaneInput!) { lossPlane(input: $input) {
  id kind states xs ys loss accuracy status progress { done total } lineInPlane
  markers { label checkpointId x y } axes { projection xLength yLength orthogonal }
  points { i j x y loss accuracy n cached coefficients }
  cost { points stored toCompute examplesPerPoint bnStatsExamplesPerPoint estimatedSeconds estimatedFrom note } } }`;
const DIRECTION = `mutation ($input: DirectionInput!) { createDirection(input: $input) { id role derivation { operation arguments parents { id } } } }`;

function expectReferencePoints(
  plane: { xs: number[]; ys: number[]; loss: Array<Array<number | null>>; accuracy: Array<Array<number | null>> },
  points: readonly ReferencePoint[],
): void {
  for (const point of points) {
    const i = plane.xs.findIndex((x) => x === point.x);
    const j = plane.ys.findIndex((y) => y === point.y);
    expect(i, `x = ${point.x} on the grid`).toBeGreaterThanOrEqual(0);
    expect(j, `y = ${point.y} on the grid`).toBeGreaterThanOrEqual(0);
    expect(Math.abs(plane.loss[j]![i]! - point.loss), `loss at (${point.x}, ${point.y})`).toBeLessThanOrEqual(
      LOSS_TOLERANCE,
    );
    if (point.nearBoundary === 0) expect(plane.accuracy[j]![i]! * point.n).toBeCloseTo(point.correct, 6);
  }
}

describe('loss planes and curves', () => {
  let test: TestApp;
  let url: string;
  let key: string;
  const ids = { init: '', final: '', epoch5: '', test: '' };
  const ask = async (query: string, input: Record<string, unknown>, as?: string) => {
    const { body } = await postGraphql(url, query, { input }, as === undefined ? {} : { key: as });
    return body;
  };
  const jobCount = async () =>
    Number(
      (
        await test.app.database.pool.query<{ n: string }>('SELECT count(*) AS n FROM pgboss.job WHERE name = $1', [
          EVALUATE_QUEUE,
        ])
      ).rows[0]!.n,
    );

  beforeAll(async () => {
    test = await startTestApp({ LINPATH_WORKERS: '1' });
    url = test.http.url;
    key = await test.createKey('write');
    const registry = test.app.registry;
    for (const [name, role, step] of [
      ['init', 'INITIAL', 0],
      ['epoch5', 'INTERMEDIATE', 100],
      ['final', 'FINAL', 1200],
    ] as const) {
      ids[name] = (
        await importCheckpointFile(registry, fixturePath(`mlp/${name}.safetensors`), {
          run: 'landscape',
          step,
          role,
          architecture: 'mlp',
        })
      ).checkpoint.id;
    }
    ids.test = (
      await importDatasetFile(registry, fixturePath('mlp/test_set.safetensors'), { name: 'spiral', split: 'TEST' })
    ).dataset.id;
  });
  afterAll(async () => {
    await test?.close();
  });

  it('evaluates a 21×21 plane through three MLP checkpoints through the queue, matching PyTorch; asking again computes nothing and a finer grid only the missing points', async () => {
    const input = { center: ids.init, xState: ids.final, yState: ids.epoch5, dataset: ids.test };
    const coarse = await ask(PLANE, { ...input, resolution: 11 });
    expect(coarse.errors).toBeUndefined();
    expect(coarse.data.lossPlane).toMatchObject({ status: 'COMPLETE', cost: { points: 121, toCompute: 121 } });

    const dry = await ask(PLANE, { ...input, resolution: 21, dryRun: true });
    expect(dry.data.lossPlane.cost).toMatchObject({ points: 441, stored: 121, toCompute: 320 });
    expect(dry.data.lossPlane.cost.estimatedFrom).toBe('STORED_POINTS');

    const fine = (await ask(PLANE, { ...input, resolution: 21 })).data.lossPlane;
    expect(fine.status).toBe('COMPLETE');
    expect(fine.points).toHaveLength(441);
    expect(fine.points.filter((p: { cached: boolean }) => p.cached)).toHaveLength(121);
    expect(fine.states).toEqual([ids.init, ids.final, ids.epoch5]);
    expect(fine.lineInPlane).toBe(true);
    expect(fine.markers).toEqual([
      { label: 'A', checkpointId: ids.init, x: 0, y: 0 },
      { label: 'B', checkpointId: ids.final, x: 1, y: 0 },
      { label: 'C', checkpointId: ids.epoch5, x: 0, y: 1 },
    ]);
    const three = reference('mlp').planes.three;
    expect(three.states).toEqual(['init', 'final', 'epoch5']);
    expectReferencePoints(fine, three.points);

    // The y = 0 row is the line init → final: the same float32 states (domain/combination.ts), the same losses.
    const j0 = fine.ys.indexOf(0);
    const line = await postGraphql(
      url,
      `query ($input: InterpolationPathInput!) { interpolationPath(input: $input) { points { alpha loss correct } } }`,
      { input: { from: ids.init, to: ids.final, dataset: ids.test, alphas: fine.xs } },
    );
    const linePoints = line.body.data.interpolationPath.points as Array<{ alpha: number; loss: number }>;
    expect(linePoints.map((p) => p.loss)).toEqual(fine.loss[j0]);

    const jobs = await jobCount();
    const again = (await ask(PLANE, { ...input, resolution: 21 })).data.lossPlane;
    expect(again.cost.toCompute).toBe(0);
    expect(again.points.every((p: { cached: boolean }) => p.cached)).toBe(true);
    expect(again.loss).toEqual(fine.loss);
    expect(await jobCount()).toBe(jobs);
    const stored = await test.app.database.pool.query<{ n: string }>(
      'SELECT count(*) AS n FROM combination_points WHERE combination_id = $1',
      [fine.id],
    );
    expect(Number(stored.rows[0]!.n)).toBe(441);
  }, 600_000);

  it('follows a plane queued with wait: false point by point (planeUpdated) to its final status', async () => {
    const input = { center: ids.init, xState: ids.final, yState: ids.epoch5, dataset: ids.test, resolution: 6 };
    const queued = (await ask(PLANE, { ...input, wait: false })).data.lossPlane;
    expect(['PENDING', 'RUNNING', 'COMPLETE']).toContain(queued.status);
    const updates = [];
    for await (const update of await planeUpdates(test.app.paths, input)) updates.push(update);
    const last = updates.at(-1)!;
    expect(last).toMatchObject({ cell: null, status: 'COMPLETE', progress: { done: 36, total: 36 } });
    const cells = updates.slice(0, -1).map((u) => u.cell!);
    expect(new Set(cells.map((c) => `${c.i},${c.j}`)).size).toBe(36);
    const plane = (await ask(PLANE, input)).data.lossPlane;
    for (const cell of cells) {
      expect(cell.x).toBe(plane.xs[cell.i]);
      expect(cell.point!.lossSum / cell.point!.n).toBeCloseTo(plane.loss[cell.j][cell.i], 12);
    }
  }, 300_000);

  it('orthogonalises the second axis as Garipov et al. (C at (k, 1)), matching PyTorch', async () => {
    const orthogonal = reference('mlp').planes.orthogonal;
    const plane = (
      await ask(PLANE, {
        center: ids.init,
        xState: ids.final,
        yState: ids.epoch5,
        dataset: ids.test,
        orthogonalize: true,
        resolution: 5,
      })
    ).data.lossPlane;
    expect(plane.status).toBe('COMPLETE');
    expect(plane.axes.orthogonal).toBe(true);
    expect(plane.axes.projection).toBeCloseTo(orthogonal.projection!, 12);
    expect(plane.axes.xLength).toBeCloseTo(orthogonal.xLength!, 9);
    expect(plane.axes.yLength).toBeCloseTo(orthogonal.yLength!, 9);
    expect(plane.markers[2]).toMatchObject({ label: 'C', x: plane.axes.projection, y: 1 });
    expectReferencePoints(plane, orthogonal.points);
  }, 300_000);

  it('draws filter-normalised directions as derived checkpoints and evaluates the plane around the final MLP checkpoint', async () => {
    const mlp = reference('mlp');
    const x = await ask(DIRECTION, { center: ids.final, seed: 1, scope: 'WEIGHTS', lowDimension: 'ZERO' }, key);
    const y = await ask(DIRECTION, { center: ids.final, seed: 2, scope: 'WEIGHTS', lowDimension: 'KEEP' }, key);
    expect(x.errors).toBeUndefined();
    expect(x.data.createDirection).toMatchObject({
      role: 'DERIVED',
      derivation: {
        operation: 'DIRECTION',
        arguments: { seed: 1, scope: 'WEIGHTS', lowDimension: 'ZERO', normalization: 'FILTER' },
        parents: [{ id: ids.final }],
      },
    });
    // The stored objects hold linpath's directions, the ones the references read (sha256 of the float32 bytes).
    for (const [direction, axis] of [
      [x.data.createDirection.id as string, 'x'],
      [y.data.createDirection.id as string, 'y'],
    ] as const) {
      const row = (await test.app.registry.repository.findCheckpoint(direction))!;
      const state = await test.app.paths.states.get(row);
      const hash = createHash('sha256');
      for (const values of state.tensors.values())
        hash.update(new Uint8Array(values.buffer, values.byteOffset, values.byteLength));
      expect(hash.digest('hex')).toBe(mlp.directions[axis].sha256Linpath);
    }
    // Asking for the same direction again is the same checkpoint.
    const same = await ask(DIRECTION, { center: ids.final, seed: 1 }, key);
    expect(same.data.createDirection.id).toBe(x.data.createDirection.id);

    const plane = (
      await ask(PLANE, {
        center: ids.final,
        xDirection: x.data.createDirection.id,
        yDirection: y.data.createDirection.id,
        dataset: ids.test,
        resolution: 5,
      })
    ).data.lossPlane;
    expect(plane).toMatchObject({ kind: 'DIRECTIONS', status: 'COMPLETE', lineInPlane: false, axes: null });
    expect(plane.markers).toEqual([{ label: 'CENTER', checkpointId: ids.final, x: 0, y: 0 }]);
    expectReferencePoints(plane, mlp.planes.directions.points);
  }, 300_000);

  it('evaluates a Bezier curve and a polychain through a bend with the straight line barrier next to them', async () => {
    const mlp = reference('mlp');
    const CURVE = `query ($input: CurvePathInput!) { curvePath(input: $input) {
      id kind ts status points { t loss accuracy n coefficients }
      barrier { rise frankleHeight maxValue monotonic } line { status points { alpha loss } barrier { rise frankleHeight maxValue } }
      loose: barrier(tolerance: 100) { rise monotonic } looseError: errorBarrier(tolerance: 2) { monotonic } } }`;
    for (const kind of ['BEZIER', 'POLYCHAIN'] as const) {
      const expected = mlp.curves[kind === 'BEZIER' ? 'bezier' : 'polychain'];
      expect(expected.states).toEqual(['init', 'epoch5', 'final']);
      const ts = expected.points.map((p) => p.t!);
      const body = await ask(CURVE, { from: ids.init, bend: ids.epoch5, to: ids.final, kind, ts, dataset: ids.test });
      expect(body.errors).toBeUndefined();
      const curve = body.data.curvePath;
      expect(curve).toMatchObject({ kind, status: 'COMPLETE', ts });
      for (const [i, point] of expected.points.entries()) {
        expect(Math.abs(curve.points[i].loss - point.loss), `${kind} loss at t = ${point.t}`).toBeLessThanOrEqual(
          LOSS_TOLERANCE,
        );
        expect(curve.points[i].coefficients).toEqual(point.coefficients.map(Math.fround));
      }
      expect(curve.line.status).toBe('COMPLETE');
      expect(curve.line.points.map((p: { alpha: number }) => p.alpha)).toEqual(ts);
      // Each barrier is measured on its own curve: the curve's over its t, the line's over the same α.
      const max = (values: number[]) => Math.max(...values);
      expect(curve.barrier.maxValue).toBe(max(curve.points.map((p: { loss: number }) => p.loss)));
      expect(curve.line.barrier.maxValue).toBe(max(curve.line.points.map((p: { loss: number }) => p.loss)));
      expect(typeof curve.barrier.frankleHeight).toBe('number');
      expect(typeof curve.line.barrier.frankleHeight).toBe('number');
      // Its thresholds are arguments, as a path's: no rise exceeds 100 in loss or 2 in error.
      expect(curve.loose).toEqual({ rise: curve.barrier.rise, monotonic: true });
      expect(curve.looseError).toEqual({ monotonic: true });
      // The curve's ends are the line's ends.
      expect(curve.points[0].loss).toBe(curve.line.points[0].loss);
      expect(curve.points.at(-1).loss).toBe(curve.line.points.at(-1).loss);
    }
  }, 300_000);

  it('answers a freshly queued curve (wait: false) with the points stored so far, its barrier null below two', async () => {
    const CURVE = `query ($input: CurvePathInput!) { curvePath(input: $input) {
      status points { t } barrier { nonFinitePoints } errorBarrier { nonFinitePoints } } }`;
    // ts no other test asks, so nothing of this curve is stored yet.
    const ts = [0.05, 0.35, 0.65, 0.95];
    const body = await ask(CURVE, {
      from: ids.init,
      bend: ids.epoch5,
      to: ids.final,
      kind: 'BEZIER',
      ts,
      dataset: ids.test,
      wait: false,
    });
    expect(body.errors).toBeUndefined();
    const curve = body.data.curvePath;
    expect(curve.points.length).toBeLessThan(ts.length);
    expect(curve.status).not.toBe('COMPLETE');
    // Measured over the stored points: none while fewer than two are stored.
    if (curve.points.length < 2) {
      expect(curve.barrier).toBeNull();
      expect(curve.errorBarrier).toBeNull();
    } else {
      expect(curve.barrier.nonFinitePoints).toBe(0);
    }
  }, 300_000);

  it('refuses bad inputs with coded errors that say what was expected and what was given', async () => {
    const base = { center: ids.init, xState: ids.final, yState: ids.epoch5, dataset: ids.test };
    const cases: Array<[Record<string, unknown>, string, RegExp]> = [
      [{ ...base, resolution: 60 }, 'BAD_USER_INPUT', /at most 51×51 = 2601 points\), got 60 \(60×60 = 3600 points\)/],
      [{ ...base, xState: randomUUID() }, 'NOT_FOUND', /xState: no checkpoint with id/],
      [
        { ...base, xDirection: ids.final },
        'BAD_USER_INPUT',
        /xState, xDirection: expected exactly one of them.*got both/,
      ],
      [{ ...base, yState: null }, 'BAD_USER_INPUT', /yState, yDirection: expected exactly one of them.*got neither/],
      [{ ...base, yState: null, yDirection: ids.final }, 'BAD_USER_INPUT', /expected two states .* or two directions/],
      [{ ...base, bnStats: 'KEEP_TO' }, 'BAD_USER_INPUT', /planes and curves take INTERPOLATE or RECOMPUTE/],
      [{ ...base, range: { xMin: 1, xMax: 0, yMin: 0, yMax: 1 } }, 'BAD_USER_INPUT', /expected xMin < xMax/],
      [{ ...base, dataset: randomUUID() }, 'NOT_FOUND', /dataset: no dataset/],
    ];
    for (const [input, code, message] of cases) {
      const body = await ask(PLANE, input);
      expect(body.errors?.[0]?.extensions?.code, JSON.stringify(input)).toBe(code);
      expect(body.errors![0].message).toMatch(message);
    }
    const curve = await ask(`query ($input: CurvePathInput!) { curvePath(input: $input) { id } }`, {
      from: ids.init,
      bend: ids.epoch5,
      to: ids.final,
      ts: [0, 1.5],
      dataset: ids.test,
    });
    expect(curve.errors![0].extensions.code).toBe('BAD_USER_INPUT');
    expect(curve.errors![0].message).toMatch(/ts: expected numbers from 0 to 1.*got 1.5/);
  });

  describeWithFixtures(RESNET18_FIXTURES, 'a filter-normalised plane around the ResNet-18 checkpoint', () => {
    const resnet = { final: '', test: '' };
    let dir: string;
    beforeAll(async () => {
      dir = mkdtempSync(path.join(tmpdir(), 'linpath-landscape-'));
      const file = path.join(dir, 'final.safetensors');
      writeFileSync(file, gunzipSync(readFileSync(fixturePath('resnet18/final.safetensors.gz'))));
      resnet.final = (
        await importCheckpointFile(test.app.registry, file, {
          run: 'resnet',
          architecture: 'resnet18-cifar',
          step: 150,
          role: 'FINAL',
        })
      ).checkpoint.id;
      resnet.test = (
        await importDatasetFile(test.app.registry, fixturePath('resnet18/test_set.safetensors'), {
          name: 'shapes',
          split: 'TEST',
          inputKey: 'images_f32_nchw',
          labelKey: 'labels',
        })
      ).dataset.id;
    }, 120_000);
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    it('matches PyTorch on a 3×3 grid of 50 images (the issue’s 21×21: scripts/landscape-resnet-plane.mjs)', async () => {
      const expected = reference('resnet18').planes.directions;
      const x = await ask(DIRECTION, { center: resnet.final, seed: 11 }, key);
      const y = await ask(DIRECTION, { center: resnet.final, seed: 12 }, key);
      expect(x.errors).toBeUndefined();
      const plane = (
        await ask(PLANE, {
          center: resnet.final,
          xDirection: x.data.createDirection.id,
          yDirection: y.data.createDirection.id,
          dataset: resnet.test,
          limit: 50,
          resolution: 3,
        })
      ).data.lossPlane;
      expect(plane.status).toBe('COMPLETE');
      expect(plane.xs).toEqual([-1, 0, 1]);
      expectReferencePoints(
        plane,
        expected.points.filter((p) => Number.isInteger(p.x) && Number.isInteger(p.y)),
      );
    }, 600_000);

    it('recomputes BatchNorm statistics at every plane point: its y = 0 row equals the RECOMPUTE path A → B', async () => {
      const initFile = path.join(dir, 'init.safetensors');
      writeFileSync(initFile, gunzipSync(readFileSync(fixturePath('resnet18/init.safetensors.gz'))));
      const init = (
        await importCheckpointFile(test.app.registry, initFile, {
          run: 'resnet',
          architecture: 'resnet18-cifar',
          step: 0,
          role: 'INITIAL',
        })
      ).checkpoint.id;
      // A third state of the same architecture: a direction around the final checkpoint (a derived checkpoint).
      const third = await ask(DIRECTION, { center: resnet.final, seed: 21 }, key);
      expect(third.errors).toBeUndefined();
      const bn = { bnStats: 'RECOMPUTE', bnStatsDataset: resnet.test, bnStatsExamples: 16, limit: 8 };
      const plane = (
        await ask(PLANE, {
          center: init,
          xState: resnet.final,
          yState: third.data.createDirection.id,
          dataset: resnet.test,
          range: { xMin: 0, xMax: 1, yMin: 0, yMax: 0.5 },
          resolution: 3,
          ...bn,
        })
      ).data.lossPlane;
      expect(plane.status).toBe('COMPLETE');
      expect(plane.cost.note).toMatch(/RECOMPUTE is expensive/);
      const line = await postGraphql(
        url,
        `query ($input: InterpolationPathInput!) { interpolationPath(input: $input) { status points { alpha loss accuracy } } }`,
        { input: { from: init, to: resnet.final, dataset: resnet.test, alphas: [0, 0.5, 1], ...bn } },
      );
      expect(line.body.errors).toBeUndefined();
      const straight = line.body.data.interpolationPath;
      expect(straight.status).toBe('COMPLETE');
      const row = plane.points
        .filter((p: { y: number }) => p.y === 0)
        .sort((a: { x: number }, b: { x: number }) => a.x - b.x);
      expect(row.map((p: { x: number }) => p.x)).toEqual([0, 0.5, 1]);
      // Same states (bit for bit, up to signed zeros), same recomputation: the same losses and accuracies.
      expect(row.map((p: { loss: number; accuracy: number }) => [p.loss, p.accuracy])).toEqual(
        straight.points.map((p: { loss: number; accuracy: number }) => [p.loss, p.accuracy]),
      );
      // The same plane with the stored statistics (INTERPOLATE) is another computation: none of its points is stored.
      const interpolated = (
        await ask(PLANE, {
          center: init,
          xState: resnet.final,
          yState: third.data.createDirection.id,
          dataset: resnet.test,
          range: { xMin: 0, xMax: 1, yMin: 0, yMax: 0.5 },
          resolution: 3,
          limit: 8,
          dryRun: true,
        })
      ).data.lossPlane;
      expect(interpolated.cost.stored).toBe(0);
    }, 600_000);

    it('refuses a plane over two architectures', async () => {
      const body = await ask(PLANE, { center: ids.init, xState: resnet.final, yState: ids.epoch5, dataset: ids.test });
      expect(body.errors![0].extensions.code).toBe('BAD_USER_INPUT');
      expect(body.errors![0].message).toMatch(/xState and center: both must share an architecture/);
    });
  });
});

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeSafetensors } from '../../src/formats/safetensors.encode.js';
import { importCheckpointFile } from '../../src/usecases/registry/checkpoints.usecases.js';
import { importDatasetFile } from '../../src/usecases/registry/datasets.usecases.js';
import { createRun } from '../../src/usecases/registry/runs.usecases.js';
import { postGraphql, startTestApp, type TestApp } from '../helpers/app.js';
import { readCheckpointFixture } from '../helpers/engine-fixtures.js';
import { fixturePath } from '../helpers/fixtures.js';

/**
 * A diverged state end to end, over HTTP: the MLP's last two layers set to ±3e38 make its activations and
 * logits overflow to ±Infinity, and BCE of an infinite logit is Infinity or NaN. The points are stored and answered as JSON
 * (loss null, nonFinite counting the examples), the barrier metrics follow their documented rule, and a
 * correlation lists the diverged run as missing with its reason instead of failing or returning NaN.
 */
describe('non-finite losses', () => {
  let test: TestApp;
  let dir: string;
  const ids = { init: '', broken: '', test: '' };

  beforeAll(async () => {
    test = await startTestApp();
    dir = mkdtempSync(path.join(tmpdir(), 'linpath-nonfinite-'));
    const deps = test.app.registry;
    const final = readCheckpointFixture('mlp/final.safetensors');
    const broken = path.join(dir, 'broken.safetensors');
    writeFileSync(
      broken,
      encodeSafetensors(
        final.tensors.map((t) => {
          const data = final.state.get(t.name)!;
          return {
            name: t.name,
            dtype: 'F32' as const,
            shape: [...t.shape],
            data: /^fc[23]\./.test(t.name) ? data.map((v) => (v >= 0 ? 3e38 : -3e38)) : data,
          };
        }),
      ),
    );
    ids.test = (
      await importDatasetFile(deps, fixturePath('mlp/test_set.safetensors'), { name: 'spiral', split: 'TEST' })
    ).dataset.id;
    // Three healthy runs and a diverged one, each with a reported test accuracy.
    for (const [name, file, accuracy] of [
      ['healthy-1', fixturePath('mlp/final.safetensors'), 0.89],
      ['healthy-2', fixturePath('mlp/epoch5.safetensors'), 0.52],
      ['healthy-3', fixturePath('mlp/final.safetensors'), 0.9],
      ['diverged', broken, 0.5],
    ] as const) {
      await createRun(deps, {
        name,
        architecture: 'mlp',
        datasetName: 'spiral',
        reportedMetrics: { testAccuracy: accuracy },
      });
      const init = await importCheckpointFile(deps, fixturePath('mlp/init.safetensors'), {
        run: name,
        step: 0,
        role: 'INITIAL',
      });
      const end = await importCheckpointFile(deps, file, { run: name, step: 1200, role: 'FINAL' });
      ids.init = init.checkpoint.id;
      if (name === 'diverged') ids.broken = end.checkpoint.id;
    }
  }, 60_000);
  afterAll(async () => {
    await test?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('stores and answers diverged points as JSON: loss null, nonFinite counted, barrier heights by the rule', async () => {
    const query = `query ($input: InterpolationPathInput!) {
      interpolationPath(input: $input) {
        status points { alpha loss accuracy n nonFinite }
        barrier { shape monotonic frankleHeight heightAboveEndpoints alphaAtMax nonFinitePoints }
      }
    }`;
    const { status, body } = await postGraphql(test.http.url, query, {
      input: { from: ids.init, to: ids.broken, dataset: ids.test, alphas: [0, 0.5, 1] },
    });
    expect(status).toBe(200);
    expect(body.errors).toBeUndefined();
    const path = body.data.interpolationPath;
    expect(path.status).toBe('COMPLETE');
    const [start, middle, end] = path.points;
    expect(start).toMatchObject({ alpha: 0, nonFinite: 0 });
    expect(start.loss).toBeGreaterThan(0.69);
    for (const point of [middle, end]) {
      expect(point.loss).toBeNull();
      expect(point.nonFinite).toBeGreaterThan(0);
      expect(point.nonFinite).toBeLessThanOrEqual(point.n);
      expect(point.accuracy).toBeGreaterThanOrEqual(0);
    }
    // A non-finite end point: no height can be measured against it.
    expect(path.barrier).toMatchObject({ frankleHeight: null, heightAboveEndpoints: null, nonFinitePoints: 2 });

    // Asked again, the stored non-finite points come back the same (NaN and Infinity survive Postgres).
    const again = await postGraphql(test.http.url, query, {
      input: { from: ids.init, to: ids.broken, dataset: ids.test, alphas: [0, 0.5, 1] },
    });
    expect(again.body.data.interpolationPath.points).toEqual(path.points);
  }, 60_000);

  it('leaves a diverged run out of a correlation, saying why', async () => {
    const { status, body } = await postGraphql(
      test.http.url,
      `query ($input: CorrelationInput!) {
        correlation(input: $input) { overall { n pearson } points { run { name } x y } missing { run { name } reason } }
      }`,
      {
        input: {
          x: 'FRANKLE_HEIGHT',
          y: 'REPORTED',
          yMetric: 'testAccuracy',
          path: { dataset: ids.test, alphas: [0, 0.5, 1] },
          permutations: 100,
          bootstrap: 100,
        },
      },
    );
    expect(status).toBe(200);
    expect(body.errors).toBeUndefined();
    const report = body.data.correlation;
    expect(report.points.map((p: { run: { name: string } }) => p.run.name).sort()).toEqual([
      'healthy-1',
      'healthy-2',
      'healthy-3',
    ]);
    expect(report.points.every((p: { x: number; y: number }) => Number.isFinite(p.x) && Number.isFinite(p.y))).toBe(
      true,
    );
    expect(report.overall.n).toBe(3);
    expect(report.missing).toEqual([{ run: { name: 'diverged' }, reason: expect.stringContaining('non-finite') }]);
  }, 60_000);
});

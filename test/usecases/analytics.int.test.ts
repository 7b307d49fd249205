import { readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkpointsTable, runsTable } from '../../src/storage/registry.tables.js';
import { barrierMetrics } from '../../src/domain/barrier.metrics.js';
import { studyReport } from '../../src/usecases/report.usecases.js';
import { interpolateTensor } from '../../src/domain/interpolation.js';
import { decodeTensor } from '../../src/formats/safetensors.decode.js';
import { encodeSafetensors } from '../../src/formats/safetensors.encode.js';
import { parseSafetensors, tensorBytes } from '../../src/formats/safetensors.header.js';
import type { AnalyticsDeps } from '../../src/usecases/analytics/analytics.deps.js';
import { pathBarriers } from '../../src/usecases/analytics/barriers.usecases.js';
import { blockwisePaths } from '../../src/usecases/analytics/blockwise.usecases.js';
import { correlation } from '../../src/usecases/analytics/correlation.usecases.js';
import { checkpointDistance } from '../../src/usecases/analytics/distances.usecases.js';
import { runEndpointMetrics } from '../../src/usecases/analytics/run-metrics.usecases.js';
import { interpolationPath } from '../../src/usecases/paths/paths.usecases.js';
import { importCheckpointFile } from '../../src/usecases/registry/checkpoints.usecases.js';
import { importDatasetFile } from '../../src/usecases/registry/datasets.usecases.js';
import { createRun, listRuns } from '../../src/usecases/registry/runs.usecases.js';
import { fixturePath } from '../helpers/fixtures.js';
import { createPathDeps, type PathFixture } from '../helpers/paths.js';
import { createRegistryFixture, type RegistryFixture } from '../helpers/registry.js';

const reference = JSON.parse(readFileSync(fixturePath('mlp/reference.json'), 'utf8'));
const relative = (a: number, b: number) => Math.abs(a - b) / Math.abs(b);

// Independent statistics for the correlation check: plain O(n²) definitions, not the library's code.
const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;
function pearsonByDefinition(x: number[], y: number[]): number {
  const mx = mean(x);
  const my = mean(y);
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  x.forEach((xi, i) => {
    sxy += (xi - mx) * (y[i]! - my);
    sxx += (xi - mx) ** 2;
    syy += (y[i]! - my) ** 2;
  });
  return sxy / Math.sqrt(sxx * syy);
}
/** Rank of each value: 1 + the number of smaller values + half the number of other equal values. */
const averageRanks = (v: number[]) =>
  v.map((a) => 1 + v.filter((b) => b < a).length + (v.filter((b) => b === a).length - 1) / 2);
const spearmanByDefinition = (x: number[], y: number[]) => pearsonByDefinition(averageRanks(x), averageRanks(y));
function kendallTauB(x: number[], y: number[]): number {
  let concordant = 0;
  let discordant = 0;
  let tiesX = 0;
  let tiesY = 0;
  for (let i = 0; i < x.length; i++) {
    for (let j = i + 1; j < x.length; j++) {
      const s = Math.sign(x[i]! - x[j]!) * Math.sign(y[i]! - y[j]!);
      if (s > 0) concordant++;
      else if (s < 0) discordant++;
      if (x[i] === x[j] && y[i] !== y[j]) tiesX++;
      if (y[i] === y[j] && x[i] !== x[j]) tiesY++;
    }
  }
  return (concordant - discordant) / Math.sqrt((concordant + discordant + tiesX) * (concordant + discordant + tiesY));
}

type State = Map<string, Float64Array>;

function decodeState(file: string): Map<string, Float32Array> {
  const bytes = new Uint8Array(readFileSync(fixturePath(file)));
  const header = parseSafetensors(bytes);
  return new Map(header.tensors.map((t) => [t.name, decodeTensor(t, tensorBytes(bytes, header, t)) as Float32Array]));
}

/** θ_0 and the sweep's FINAL states θ(t_k) = f32 interpolation at t_k = 0.2 + 0.1·k, as float64. */
function sweepStates(): { init: State; sweep: State[] } {
  const init = decodeState('mlp/init.safetensors');
  const final = decodeState('mlp/final.safetensors');
  const toF64 = (state: Map<string, Float32Array>): State =>
    new Map([...state].map(([k, v]) => [k, Float64Array.from(v)]));
  const sweep = Array.from({ length: 12 }, (_, k) =>
    toF64(new Map([...init].map(([name, a]) => [name, interpolateTensor(a, final.get(name)!, 0.2 + 0.1 * k)]))),
  );
  return { init: toF64(init), sweep };
}

const mix = (a: State, b: State, alpha: number): State =>
  new Map([...a].map(([name, values]) => [name, values.map((v, i) => (1 - alpha) * v + alpha * b.get(name)![i]!)]));

function fixtureData() {
  const data = decodeState('mlp/test_set.safetensors') as unknown as Map<string, Float32Array | Uint8Array>;
  return { x: data.get('x') as Float32Array, y: data.get('y') as Uint8Array };
}

/** Mean BCE-with-logits and accuracy of the 2-50-50-1 MLP on the first n examples, in plain float64. */
function lossAndAccuracy(state: State, data: { x: Float32Array; y: Uint8Array }, n: number) {
  let loss = 0;
  let correct = 0;
  for (let i = 0; i < n; i++) {
    let h = [data.x[2 * i]!, data.x[2 * i + 1]!];
    for (const layer of ['fc1', 'fc2', 'fc3']) {
      const w = state.get(`${layer}.weight`)!;
      const b = state.get(`${layer}.bias`)!;
      const next = Array.from(b, (bias, o) => h.reduce((sum, v, k) => sum + v * w[o * h.length + k]!, bias));
      h = layer === 'fc3' ? next : next.map((v) => Math.max(v, 0));
    }
    const z = h[0]!;
    const y = data.y[i]!;
    loss += Math.max(z, 0) - z * y + Math.log1p(Math.exp(-Math.abs(z)));
    if ((z > 0 ? 1 : 0) === y) correct++;
  }
  return { loss: loss / n, accuracy: correct / n };
}

describe('analytics on a real database, S3 server and engine', () => {
  let f: RegistryFixture;
  let deps: AnalyticsDeps;
  let evaluation: PathFixture | undefined;
  let dir: string;
  const ids = { init: '', epoch5: '', final: '', test: '', train: '' };

  beforeAll(async () => {
    f = await createRegistryFixture();
    evaluation = await createPathDeps(f);
    deps = evaluation.analytics;
    dir = await mkdtemp(path.join(tmpdir(), 'linpath-analytics-'));
    await createRun(f.deps, { name: 'mlp', architecture: 'mlp', datasetName: 'spiral' });
    const add = async (file: string, step: number, role: 'INITIAL' | 'INTERMEDIATE' | 'FINAL') =>
      (await importCheckpointFile(f.deps, fixturePath(`mlp/${file}`), { run: 'mlp', step, role })).checkpoint.id;
    ids.init = await add('init.safetensors', 0, 'INITIAL');
    ids.epoch5 = await add('epoch5.safetensors', 100, 'INTERMEDIATE');
    ids.final = await add('final.safetensors', 1200, 'FINAL');
    ids.test = (
      await importDatasetFile(f.deps, fixturePath('mlp/test_set.safetensors'), {
        name: 'spiral',
        split: 'TEST',
      })
    ).dataset.id;
    ids.train = (
      await importDatasetFile(f.deps, fixturePath('mlp/train_set.safetensors'), {
        name: 'spiral',
        split: 'TRAIN',
      })
    ).dataset.id;
  });
  afterAll(async () => {
    await evaluation?.close();
    await deps?.paths.engines.close();
    await f?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('computes distances as the fixture reference, memoized', async () => {
    const d = reference.distances;
    const value = async (metric: 'LAYERWISE_NORMALIZED' | 'L2' | 'RELATIVE_L2' | 'COSINE', blocks?: string[]) =>
      checkpointDistance(deps, { from: ids.init, to: ids.final, metric, blocks });
    const liu = await value('LAYERWISE_NORMALIZED');
    expect(liu.cached).toBe(false);
    expect(relative(liu.distance.value, d.liu2020_mean_rel_fro__conv_linear_weights)).toBeLessThan(1e-6);
    expect(liu.distance.tensorCount).toBe(3);
    expect(relative((await value('L2')).distance.value, d.global_l2__parameters)).toBeLessThan(1e-6);
    expect(relative((await value('RELATIVE_L2')).distance.value, d.global_rel_l2__parameters)).toBeLessThan(1e-6);
    const again = await value('LAYERWISE_NORMALIZED');
    expect(again.cached).toBe(true);
    expect(again.distance.id).toBe(liu.distance.id);

    // Restricted to a block: that block's own relative Frobenius distance.
    const fc2 = await value('LAYERWISE_NORMALIZED', ['fc2']);
    const perTensor = d.per_tensor['fc2.weight'];
    expect(relative(fc2.distance.value, perTensor.diff_fro / perTensor.init_fro)).toBeLessThan(1e-6);
    expect(fc2.distance.blocks).toEqual(['fc2']);

    const epoch5 = await checkpointDistance(deps, { from: ids.init, to: ids.epoch5, metric: 'LAYERWISE_NORMALIZED' });
    expect(
      relative(epoch5.distance.value, reference.distances_epoch5.liu2020_mean_rel_fro__conv_linear_weights),
    ).toBeLessThan(1e-6);
    await expect(value('L2', ['nope'])).rejects.toMatchObject({ code: 'BAD_USER_INPUT' });
  });

  it('derives barrier metrics from the stored points of a path', async () => {
    const result = await interpolationPath(deps.paths, { from: ids.init, to: ids.final, dataset: ids.test });
    const { loss, error } = pathBarriers(result.points);
    expect(loss.shape).toBe('MONOTONIC_DECAY');
    const expected = barrierMetrics(reference.alphas, reference.full.loss);
    expect(loss.frankleHeight).toBeCloseTo(expected.frankleHeight!, 5);
    expect(loss.mliDelta).toBe(0);
    expect(error.alphaAtMax).toBe(0);
  });

  it('splits a path into block-wise paths and classifies their barriers', async () => {
    const result = await blockwisePaths(deps, {
      from: ids.init,
      to: ids.final,
      dataset: ids.test,
      alphas: [0, 0.5, 1],
    });
    expect(result.paths.map((p) => p.block)).toEqual(['fc1', 'fc2', 'fc3']);
    expect(result.paths.every((p) => p.result.path.blocks?.length === 1)).toBe(true);
    expect(result.endpointLoss).toBeCloseTo(reference.full.loss[10], 5);
    expect(result.classification?.threshold).toBeCloseTo(0.1 * result.endpointLoss!, 12);
    for (const { block, loss } of result.paths) {
      const level = (loss.heightAboveEndpoints ?? Infinity) > result.classification!.threshold ? 'HIGH' : 'LOW';
      expect(result.classification!.blocks[block]).toBe(level);
    }
    const strict = await blockwisePaths(deps, {
      from: ids.init,
      to: ids.final,
      dataset: ids.test,
      alphas: [0, 0.5, 1],
      blocks: ['fc3'],
      relativeThreshold: 0,
    });
    expect(strict.paths).toHaveLength(1);
  });

  it('gives run metrics from stored α = 1 points, evaluating on demand only when allowed', async () => {
    const run = (await f.deps.repository.findRunByName('mlp'))!;
    // The init → final path above stored α = 1 on TEST already.
    const test = await runEndpointMetrics(deps, [run], 'TEST', { evaluate: false });
    expect(test.metrics.get(run.id)).toMatchObject({ accuracy: reference.full.accuracy[10], n: 5000 });
    const notYet = await runEndpointMetrics(deps, [run], 'TRAIN', { evaluate: false });
    expect(notYet.metrics.get(run.id)).toEqual({ missing: 'not evaluated yet' });
    const train = await runEndpointMetrics(deps, [run], 'TRAIN', { evaluate: true });
    expect(train.evaluations).toBe(1);
    const metric = train.metrics.get(run.id) as { loss: number; accuracy: number };
    expect(relative(metric.loss, reference.train_set_final.loss)).toBeLessThan(1e-5);
    expect(metric.accuracy).toBe(reference.train_set_final.accuracy);
  });

  describe('correlation across runs', () => {
    const weightDecays = [0, 0, 0, 0, 0.0005, 0.0005, 0.0005, 0.0005, 0.001, 0.001, 0.001, 0.001];
    // Reported accuracies with ties, so Spearman and Kendall need their tie corrections.
    const reported = [0.81, 0.83, 0.83, 0.86, 0.8, 0.85, 0.85, 0.9, 0.84, 0.84, 0.88, 0.87];

    beforeAll(async () => {
      // Twelve runs whose FINAL state lies at known points of the fixture's path: θ(t) for t from 0.2 to 1.3.
      const decode = (file: string) => {
        const bytes = new Uint8Array(readFileSync(fixturePath(`mlp/${file}`)));
        const header = parseSafetensors(bytes);
        return header.tensors.map((t) => ({
          name: t.name,
          shape: t.shape,
          data: decodeTensor(t, tensorBytes(bytes, header, t)) as Float32Array,
        }));
      };
      const init = decode('init.safetensors');
      const final = decode('final.safetensors');
      for (let k = 0; k < 12; k++) {
        const t = 0.2 + 0.1 * k;
        const file = path.join(dir, `sweep-${k}.safetensors`);
        writeFileSync(
          file,
          encodeSafetensors(
            init.map((a, i) => ({
              name: a.name,
              dtype: 'F32' as const,
              shape: a.shape,
              data: interpolateTensor(a.data, final[i]!.data, t),
            })),
          ),
        );
        await createRun(f.deps, {
          name: `sweep-${k}`,
          architecture: 'mlp',
          datasetName: 'spiral',
          tags: ['sweep'],
          hyperparameters: { weight_decay: weightDecays[k], t },
          reportedMetrics: { testAccuracy: reported[k] },
        });
        await importCheckpointFile(f.deps, fixturePath('mlp/init.safetensors'), {
          run: `sweep-${k}`,
          step: 0,
          role: 'INITIAL',
        });
        await importCheckpointFile(f.deps, file, { run: `sweep-${k}`, step: 100, role: 'FINAL' });
      }
      await createRun(f.deps, {
        name: 'sweep-unfinished',
        architecture: 'mlp',
        datasetName: 'spiral',
        tags: ['sweep'],
      });
    });

    it('matches independently computed Pearson, Spearman (ties) and Kendall, overall and per group', async () => {
      const report = await correlation(deps, {
        runs: { tags: ['sweep'] },
        x: 'DISTANCE_L2',
        y: 'REPORTED',
        yMetric: 'testAccuracy',
        path: { from: 'INITIAL', to: 'FINAL', dataset: ids.test },
        groupBy: ['weight_decay'],
        statistics: { permutations: 2000, bootstrap: 500 },
      });
      expect(report.points.map((p) => p.run.name)).toEqual(Array.from({ length: 12 }, (_, k) => `sweep-${k}`));
      expect(report.missing).toEqual([
        { run: expect.objectContaining({ name: 'sweep-unfinished' }), reason: 'the run has no INITIAL checkpoint' },
      ]);
      // x: ‖θ(t) − θ_0‖ = t·‖θ_T − θ_0‖ (up to float32 rounding).
      report.points.forEach((p, k) =>
        expect(relative(p.x, (0.2 + 0.1 * k) * reference.distances.global_l2__parameters)).toBeLessThan(1e-5),
      );
      const x = report.points.map((p) => p.x);
      const y = report.points.map((p) => p.y);
      expect(y).toEqual(reported);
      expect(report.overall.n).toBe(12);
      expect(report.overall.pearson).toBeCloseTo(pearsonByDefinition(x, y), 10);
      expect(report.overall.spearman).toBeCloseTo(spearmanByDefinition(x, y), 10);
      expect(report.overall.kendall).toBeCloseTo(kendallTauB(x, y), 10);
      expect(report.overall.pValue).toBeGreaterThan(0);
      expect(report.overall.ci95!.low).toBeLessThanOrEqual(report.overall.pearson!);
      expect(report.overall.ci95!.high).toBeGreaterThanOrEqual(report.overall.pearson!);

      expect(report.groups.map((g) => g.values)).toEqual([[0], [0.0005], [0.001]]);
      for (const group of report.groups) {
        const members = report.points.filter((p) => p.group === group.key);
        expect(members).toHaveLength(4);
        const gx = members.map((p) => p.x);
        const gy = members.map((p) => p.y);
        expect(group.overall.pearson).toBeCloseTo(pearsonByDefinition(gx, gy), 10);
        expect(group.overall.spearman).toBeCloseTo(spearmanByDefinition(gx, gy), 10);
        expect(group.overall.kendall).toBeCloseTo(kendallTauB(gx, gy), 10);
      }
    });

    it('correlates a barrier metric with test accuracy over 12 runs, against curves computed independently', async () => {
      const alphas = [0, 0.5, 1];
      const input = {
        runs: { tags: ['sweep'] },
        x: 'FRANKLE_HEIGHT' as const,
        y: 'TEST_ACCURACY' as const,
        path: { from: 'INITIAL' as const, to: 'FINAL' as const, dataset: ids.test, alphas, limit: 1000 },
        groupBy: ['weight_decay'],
        statistics: { permutations: 1000, bootstrap: 200 },
      };
      const limited = await correlation(deps, { ...input, maxEvaluations: 3 });
      expect(limited.points.length + limited.missing.length).toBe(13);
      expect(
        limited.missing.filter((m) => m.reason.startsWith('path not evaluated: maxEvaluations reached')).length,
      ).toBeGreaterThan(0);

      const report = await correlation(deps, { ...input, maxEvaluations: 100 });
      expect(report.points, JSON.stringify(report.missing.map((m) => m.reason))).toHaveLength(12);
      expect(report.missing.map((m) => m.run.name)).toEqual(['sweep-unfinished']);

      // Independently: a plain float64 forward pass of the MLP at θ_k(α) = (1 − α)·θ_0 + α·θ(t_k).
      const states = sweepStates();
      const data = fixtureData();
      for (const point of report.points) {
        const k = Number(point.run.name.slice('sweep-'.length));
        const curve = alphas.map(
          (alpha) => lossAndAccuracy(mix(states.init, states.sweep[k]!, alpha), data, 1000).loss,
        );
        const frankle = Math.max(...curve) - 0.5 * (curve[0]! + curve[2]!);
        expect(Math.abs(point.x - frankle)).toBeLessThan(1e-5);
        const accuracy = lossAndAccuracy(states.sweep[k]!, data, 5000).accuracy;
        // Equal up to examples within float32 noise of the decision boundary.
        expect(Math.abs(point.y - accuracy)).toBeLessThanOrEqual(2 / 5000);
      }

      const x = report.points.map((p) => p.x);
      const y = report.points.map((p) => p.y);
      expect(report.overall.pearson).toBeCloseTo(pearsonByDefinition(x, y), 10);
      expect(report.overall.spearman).toBeCloseTo(spearmanByDefinition(x, y), 10);
      expect(report.overall.kendall).toBeCloseTo(kendallTauB(x, y), 10);
      expect(report.groups.map((g) => g.values)).toEqual([[0], [0.0005], [0.001]]);
      for (const group of report.groups) {
        const members = report.points.filter((p) => p.group === group.key);
        const gx = members.map((p) => p.x);
        const gy = members.map((p) => p.y);
        expect(group.overall.n).toBe(4);
        expect(group.overall.pearson).toBeCloseTo(pearsonByDefinition(gx, gy), 10);
        expect(group.overall.spearman).toBeCloseTo(spearmanByDefinition(gx, gy), 10);
        expect(group.overall.kendall).toBeCloseTo(kendallTauB(gx, gy), 10);
      }

      // Asking again evaluates nothing: every path and end point is stored.
      const binds = await countEvaluations(() => correlation(deps, { ...input, maxEvaluations: 0 }));
      expect(binds.result.points).toHaveLength(12);
      expect(binds.evaluations).toBe(0);
    });

    it('sorts runs by their stored test accuracy and loss, page by page, unevaluated runs last', async () => {
      const runs = (await listRuns(f.deps, { first: 100, filter: { tags: ['sweep'] } })).runs.map((r) => r.run);
      const { metrics } = await runEndpointMetrics(deps, runs, 'TEST', { evaluate: false });
      const stored = (run: (typeof runs)[number]) => {
        const metric = metrics.get(run.id)!;
        return 'missing' in metric ? null : metric;
      };
      // Expected orders, by the stored values then by creation; runs without a value last.
      const expected = (value: (run: (typeof runs)[number]) => number | null | undefined, direction: 1 | -1) =>
        runs
          .map((run, seq) => ({ name: run.name, value: value(run) ?? null, seq }))
          .sort(
            (a, b) =>
              (a.value === null ? 1 : 0) - (b.value === null ? 1 : 0) ||
              direction * ((a.value ?? 0) - (b.value ?? 0)) ||
              a.seq - b.seq,
          )
          .map((entry) => entry.name);
      const paged = async (field: 'TEST_ACCURACY' | 'TEST_LOSS', direction: 'ASC' | 'DESC') => {
        const names: string[] = [];
        let after: string | undefined;
        for (;;) {
          const page = await listRuns(f.deps, {
            first: 5,
            after,
            filter: { tags: ['sweep'] },
            orderBy: { field, direction },
          });
          names.push(...page.runs.map((r) => r.run.name));
          if (!page.hasNextPage) return names;
          after = page.runs.at(-1)!.cursor;
        }
      };
      expect(runs.filter((run) => stored(run) === null).map((run) => run.name)).toEqual(['sweep-unfinished']);
      expect(await paged('TEST_ACCURACY', 'DESC')).toEqual(expected((run) => stored(run)?.accuracy, -1));
      expect(await paged('TEST_LOSS', 'ASC')).toEqual(expected((run) => stored(run)?.loss, 1));
    });

    it('lists a run whose checkpoints do not fit as missing, with the reason, and correlates the rest', async () => {
      // Created without an architecture, and set to one its checkpoints do not fit after they were imported
      // (import checks it now; rows from before it did not): the correlation must still list it, not fail.
      const misfit = await createRun(f.deps, { name: 'sweep-misfit', datasetName: 'spiral', tags: ['sweep'] });
      await importCheckpointFile(f.deps, fixturePath('mlp/init.safetensors'), {
        run: 'sweep-misfit',
        step: 0,
        role: 'INITIAL',
      });
      await importCheckpointFile(f.deps, fixturePath('mlp/final.safetensors'), {
        run: 'sweep-misfit',
        step: 1,
        role: 'FINAL',
      });
      await f.database.db.update(runsTable).set({ architecture: 'resnet18-cifar' }).where(eq(runsTable.id, misfit.id));
      await f.database.db
        .update(checkpointsTable)
        .set({ architecture: 'resnet18-cifar' })
        .where(eq(checkpointsTable.runId, misfit.id));
      const report = await correlation(deps, {
        runs: { tags: ['sweep'] },
        x: 'DISTANCE_LAYERWISE_NORMALIZED',
        y: 'TEST_LOSS',
        path: { from: 'INITIAL', to: 'FINAL', dataset: ids.test },
        statistics: { permutations: 100, bootstrap: 100 },
      });
      expect(report.points, JSON.stringify(report.missing.map((m) => m.reason))).toHaveLength(12);
      expect(report.missing.find((m) => m.run.name === 'sweep-misfit')?.reason).toMatch(
        /^BAD_USER_INPUT: checkpoint does not match architecture resnet18-cifar/,
      );
    });

    it('refuses bad arguments', async () => {
      const base = {
        x: 'MLI_DELTA' as const,
        y: 'TEST_LOSS' as const,
        path: { from: 'INITIAL' as const, to: 'FINAL' as const, dataset: ids.test },
      };
      await expect(correlation(deps, { ...base, y: 'REPORTED' })).rejects.toMatchObject({
        code: 'BAD_USER_INPUT',
        message: expect.stringContaining('yMetric'),
      });
      await expect(correlation(deps, { ...base, path: { ...base.path, to: 'INITIAL' } })).rejects.toMatchObject({
        code: 'BAD_USER_INPUT',
      });
      await expect(correlation(deps, { ...base, maxEvaluations: -1 })).rejects.toMatchObject({
        code: 'BAD_USER_INPUT',
      });
    });

    async function countEvaluations<T>(work: () => Promise<T>): Promise<{ result: T; evaluations: number }> {
      const before = await f.database.pool.query('SELECT count(*)::int AS n FROM path_points');
      const result = await work();
      const after = await f.database.pool.query('SELECT count(*)::int AS n FROM path_points');
      return { result, evaluations: after.rows[0].n - before.rows[0].n };
    }

    it('reports shapes, test accuracy (mean ± std) and barrier–accuracy correlation per intervention, as Table 1', async () => {
      const alphas = [0, 0.5, 1];
      const report = await studyReport(deps, {
        runs: { tags: ['sweep'] },
        dataset: ids.test,
        groupBy: ['weight_decay'],
        alphas,
        limit: 1000,
        blocks: false,
      });
      expect(report.groups.map((g) => g.values)).toEqual([[0], [0.0005], [0.001]]);
      expect(report.missing.map((m) => m.run.name)).toContain('sweep-unfinished');

      // Independently: a float64 forward pass of each run's curve on the same 1000 examples.
      const states = sweepStates();
      const data = fixtureData();
      for (const group of report.groups) {
        expect(group.runs).toHaveLength(4);
        const ks = group.runs.map((r) => Number(r.run.name.slice('sweep-'.length)));
        const curves = ks.map((k) =>
          alphas.map((alpha) => lossAndAccuracy(mix(states.init, states.sweep[k]!, alpha), data, 1000)),
        );
        const accuracies = curves.map((c) => c[2]!.accuracy);
        const mean = accuracies.reduce((a, b) => a + b, 0) / 4;
        const std = Math.sqrt(accuracies.reduce((a, v) => a + (v - mean) ** 2, 0) / 3);
        expect(Math.abs(group.accuracy.mean - mean)).toBeLessThanOrEqual(2 / 1000);
        expect(Math.abs(group.accuracy.std! - std)).toBeLessThanOrEqual(2 / 1000);
        const shapes: Record<string, number> = {};
        for (const curve of curves) {
          const shape = barrierMetrics(
            alphas,
            curve.map((p) => p.loss),
          ).shape!;
          shapes[shape] = (shapes[shape] ?? 0) + 1;
        }
        expect(group.shapes).toEqual(shapes);
        const heights = curves.map((c) => Math.max(...c.map((p) => p.loss)) - 0.5 * (c[0]!.loss + c[2]!.loss));
        expect(Math.abs(group.frankleHeight!.mean - heights.reduce((a, b) => a + b, 0) / 4)).toBeLessThan(1e-5);
        const rises = curves.map((c) => Math.max(...c.map((p) => p.loss)) - Math.max(c[0]!.loss, c[2]!.loss));
        expect(Math.abs(group.rise!.mean - rises.reduce((a, b) => a + b, 0) / 4)).toBeLessThan(1e-5);
        // No block-wise curves asked for: no run can be told H-LB or L-LB.
        expect(group.layerwise).toEqual({ high: 0, low: 0, unknown: 4 });
      }
      expect(report.correlation.n).toBe(12);
      expect(report.markdown).toMatch(
        /^\| intervention \(weight_decay\) \| n \| whole model \| block-wise \| H-LB \/ L-LB \| test accuracy \| rise \|/m,
      );
      expect(report.markdown).toMatch(/^rise against test accuracy, all runs: n = 12/m);
      expect(report.markdown.match(/^\| weight_decay = /gm)).toHaveLength(3);
      expect(report.html.match(/<svg /g)).toHaveLength(3);
      await expect(
        studyReport(deps, { runs: { tags: ['sweep'] }, dataset: ids.test, alphas: [0, 0.5] }),
      ).rejects.toMatchObject({ code: 'BAD_USER_INPUT' });
    });
  });
});

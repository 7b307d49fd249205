import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { barrierMetrics } from '../../src/domain/barrier.metrics.js';
import { decodeTensor } from '../../src/formats/safetensors.decode.js';
import { parseSafetensors, tensorBytes } from '../../src/formats/safetensors.header.js';
import { interpolationPath } from '../../src/usecases/paths/paths.usecases.js';
import { gaussianBlobs, spiralStudy, type StudyDeps } from '../../src/usecases/study.usecases.js';
import { createPathDeps, type PathFixture } from '../helpers/paths.js';
import { createRegistryFixture, type RegistryFixture } from '../helpers/registry.js';

/**
 * The worked study on a small grid (2 seeds, 3 epochs): every run trained, both Figure 1A curves per run, a
 * barrier-peak run for exactly the runs whose curve has a barrier, and a report per dataset; run again, it
 * reuses everything.
 */
describe('linpath study spiral', () => {
  let f: RegistryFixture;
  let evaluation: PathFixture;
  let deps: StudyDeps;

  beforeAll(async () => {
    f = await createRegistryFixture();
    evaluation = await createPathDeps(f, { workers: 1 });
    deps = {
      registry: f.deps,
      paths: evaluation.paths,
      analytics: evaluation.analytics,
      training: evaluation.training,
    };
  }, 60_000);
  afterAll(async () => {
    await evaluation?.close();
    await evaluation?.engines.close();
    await f?.close();
  });

  it('makes two Gaussian blobs, the same for a seed', () => {
    // The study's TRAIN split.
    const bytes = gaussianBlobs(10_000, 1);
    expect(Buffer.from(bytes).equals(Buffer.from(gaussianBlobs(10_000, 1)))).toBe(true);
    const header = parseSafetensors(bytes);
    const x = decodeTensor(header.tensors[0]!, tensorBytes(bytes, header, header.tensors[0]!)) as Float32Array;
    const y = decodeTensor(header.tensors[1]!, tensorBytes(bytes, header, header.tensors[1]!)) as Uint8Array;
    for (const label of [0, 1]) {
      const points = [...y.keys()].filter((i) => y[i] === label);
      const mean = points.reduce((s, i) => s + x[2 * i]!, 0) / points.length;
      const sd = Math.sqrt(points.reduce((s, i) => s + (x[2 * i]! - mean) ** 2, 0) / points.length);
      // Within 4 standard errors: σ/√5000 ≈ 0.011 for the mean, σ/√10000 ≈ 0.0075 for the standard deviation.
      expect(points.length).toBe(5000);
      expect(Math.abs(mean - (label === 0 ? -1 : 1))).toBeLessThan(0.045);
      expect(Math.abs(sd - 0.75)).toBeLessThan(0.03);
    }
  });

  it('trains, evaluates both curves, starts runs at barrier peaks and reports, reusing everything when run again', async () => {
    const options = { seeds: [1, 2], weightDecays: [0], epochs: 3, prefix: 'tiny' };
    const study = await spiralStudy(deps, options);
    expect(study.runs.map((r) => r.run.name).sort()).toEqual([
      'tiny-blobs-wd0-seed1',
      'tiny-blobs-wd0-seed2',
      'tiny-spiral-wd0-seed1',
      'tiny-spiral-wd0-seed2',
    ]);

    for (const entry of study.runs) {
      const checkpoints = await f.deps.repository.checkpointsOfRun(entry.run.id);
      const initial = checkpoints.find((c) => c.role === 'INITIAL')!;
      const final = checkpoints.find((c) => c.role === 'FINAL')!;
      const test = (await f.deps.repository.findDatasetByName(entry.dataset, 'TEST'))!;
      // The curve the study summarised is the stored one.
      const path = await interpolationPath(evaluation.paths, {
        from: initial.id,
        to: final.id,
        dataset: test.id,
        alphas: Array.from({ length: 21 }, (_, i) => i / 20),
      });
      expect(path.points.every((p) => p.cached)).toBe(true);
      const metrics = barrierMetrics(
        path.points.map((p) => p.alpha),
        path.points.map((p) => p.lossSum / p.n),
      );
      expect(entry.fromInit.frankleHeight).toBe(metrics.frankleHeight);
      expect(entry.fromInit.shape).toBe(metrics.shape);
      // θ′_0 is a random initialisation registered with its lineage.
      const random = checkpoints.find((c) => c.derivation?.operation === 'RANDOM_INIT');
      expect(random?.derivation).toMatchObject({ parents: [final.id], arguments: { seed: 10_000 + entry.seed } });

      const peakRun = await f.deps.repository.findRunByName(`${entry.run.name}-peak`);
      if (entry.fromInit.shape === 'BARRIER') {
        // Started from θ(alphaAtMax), materialised in the base run.
        const peak = checkpoints.find((c) => c.derivation?.operation === 'INTERPOLATE')!;
        expect(peak.derivation).toMatchObject({
          parents: [initial.id, final.id],
          arguments: { alpha: entry.fromInit.alphaAtMax },
        });
        const peakInitial = (await f.deps.repository.checkpointsOfRun(peakRun!.id)).find((c) => c.role === 'INITIAL')!;
        const [a, b] = await Promise.all([evaluation.paths.states.get(peakInitial), evaluation.paths.states.get(peak)]);
        for (const [name, values] of b.tensors)
          expect(Buffer.from(a.tensors.get(name)!.buffer).equals(Buffer.from(values.buffer)), name).toBe(true);
        expect(peakRun!.hyperparameters).toMatchObject({ intervention: 'barrier-peak init', init: peak.id });
      } else {
        expect(peakRun).toBeUndefined();
      }
    }

    expect(study.reports.map((r) => r.dataset)).toEqual(['spiral', 'blobs']);
    for (const { dataset, report } of study.reports) {
      const runs = study.runs.filter((r) => r.dataset === dataset);
      const peaks = runs.filter((r) => r.fromInit.shape === 'BARRIER').length;
      expect(report.groups.reduce((n, g) => n + g.runs.length, 0)).toBe(runs.length + peaks);
      expect(report.groups.map((g) => g.label)).toContain('intervention = "random init", weightDecay = 0');
      expect(report.missing).toEqual([]);
    }
    expect(study.markdown).toContain('## Figure 1A');

    const runsBefore = await f.deps.repository.countRuns();
    const again = await spiralStudy(deps, options);
    expect(await f.deps.repository.countRuns()).toBe(runsBefore);
    expect(again.runs.map((r) => r.fromInit.frankleHeight)).toEqual(study.runs.map((r) => r.fromInit.frankleHeight));
  }, 300_000);
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { barrierMetrics } from '../../src/domain/barrier.metrics.js';
import { interpolationPath } from '../../src/usecases/paths/paths.usecases.js';
import { spiralStudy, type StudyDeps } from '../../src/usecases/study.usecases.js';
import { createPathDeps, type PathFixture } from '../helpers/paths.js';
import { createRegistryFixture, type RegistryFixture } from '../helpers/registry.js';

/**
 * The Figure 1A study on a tiny grid (the spiral, one seed, two epochs at most, two other initialisations):
 * the run trained to its stop rule, every curve of the figure (own and other initialisations, train and test)
 * summarised from the stored points, the report, the figure and the pages; run again, it reuses everything.
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

  it('trains to the stop rule, measures every Figure 1A curve, reports, draws the figure, and reuses everything', async () => {
    const options = {
      seeds: [1],
      otherInits: 2,
      stopAtTrainAccuracy: 0.99,
      maxEpochs: { spiral: 2, mnist: 1 },
      datasets: ['spiral' as const],
      prefix: 'tiny',
    };
    const study = await spiralStudy(deps, options);
    expect(study.runs.map((r) => r.run.name)).toEqual(['tiny-spiral-seed1']);
    const entry = study.runs[0]!;
    expect(entry.epochs).toBe(2); // 2 epochs of 20 steps cannot reach 99% on the spiral
    expect(entry.run.hyperparameters).toMatchObject({
      batchSize: 500,
      learningRate: 5e-4,
      weightDecay: 0,
      stopAtTrainAccuracy: 0.99,
      hiddenWidths: [50, 50],
    });
    const checkpoints = await f.deps.repository.checkpointsOfRun(entry.run.id);
    const initial = checkpoints.find((c) => c.role === 'INITIAL')!;
    const final = checkpoints.find((c) => c.role === 'FINAL')!;
    const randoms = checkpoints.filter((c) => c.derivation?.operation === 'RANDOM_INIT');
    expect(randoms.map((c) => c.derivation?.arguments.seed)).toEqual([10_101, 10_102]);
    expect(entry.curves).toHaveLength(6);
    for (const curve of entry.curves) {
      const from = curve.from === 'own' ? initial : randoms.find((c) => c.derivation?.arguments.seed === curve.from)!;
      const name = 'spiral-paper-tdefault-ndefault';
      const dataset = (await f.deps.repository.findDatasetByName(name, curve.split))!;
      expect(dataset.exampleCount).toBe(curve.split === 'TRAIN' ? 10_000 : 5_000);
      // The curve the study summarised is the stored one.
      const path = await interpolationPath(evaluation.paths, {
        from: from.id,
        to: final.id,
        dataset: dataset.id,
        alphas: Array.from({ length: 21 }, (_, i) => i / 20),
      });
      expect(path.points.every((p) => p.cached)).toBe(true);
      const losses = path.points.map((p) => p.lossSum / p.n);
      expect(curve.losses).toEqual(losses);
      expect(curve.metrics).toEqual(
        barrierMetrics(
          path.points.map((p) => p.alpha),
          losses,
        ),
      );
    }
    expect(entry.testAccuracy).toBeGreaterThan(0.4);

    expect(study.reports.map((r) => r.dataset)).toEqual(['spiral']);
    const report = study.reports[0]!.report;
    expect(report.missing).toEqual([]);
    expect(report.groups[0]!.layerwise.high + report.groups[0]!.layerwise.low).toBe(1);
    expect(study.markdown).toContain('## Figure 1A, in numbers');
    expect(study.markdown).toMatch(/^\| spiral \| train \| own θ_0 \(blue\) \| 1 \|/m);
    expect(study.markdown).toMatch(/^\| spiral \| test \| other θ′_0 \(green\) \| 2 \|/m);
    expect(study.markdown).toContain('## The two claims, as measured');
    // The figure: one blue curve per split, two green ones, in two panels (train, test).
    expect(study.figure.match(/stroke="#1f5fbf"/g)).toHaveLength(2);
    expect(study.figure.match(/stroke="#2ca02c"/g)).toHaveLength(4);
    // The page has the figure, the Figure 1A table, the report's curves, and no bare progress counters.
    expect(study.html).toContain('<h2>Figure 1A</h2>');
    expect(study.html).toContain('<th>rise: mean (max)</th>');
    expect(study.html).toContain('<div class="plots">');
    expect(study.html).not.toMatch(/\d+\/\d+ runs complete/);

    const runsBefore = await f.deps.repository.countRuns();
    const again = await spiralStudy(deps, options);
    expect(await f.deps.repository.countRuns()).toBe(runsBefore);
    expect(again.runs[0]!.curves).toEqual(entry.curves);
  }, 300_000);
});

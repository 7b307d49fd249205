import { describe, expect, it } from 'vitest';
import { isSettled, pathStatus, type JobState } from '../../src/domain/path-status.js';
import { jobChunk } from '../../src/usecases/paths/paths.usecases.js';

const point = (alpha: number, durationMs = 1000) => ({ alpha, durationMs });
const task = (alpha: number, jobState: JobState, jobId = `job-${alpha}`) => ({ alpha, jobId, jobState });

describe('pathStatus', () => {
  const alphas = [0, 0.5, 1];

  it('is COMPLETE when every requested α is stored, whatever else the path has', () => {
    const result = pathStatus({
      alphas,
      points: [point(0), point(0.5), point(1), point(2)],
      tasks: [task(0.25, 'active')],
      failed: false,
    });
    expect(result).toEqual({ status: 'COMPLETE', progress: { done: 3, total: 3, etaSeconds: 0 }, jobFailed: false });
  });

  it('is FAILED when the path failed, even with every point stored before', () => {
    expect(pathStatus({ alphas, points: [point(0)], tasks: [], failed: true })).toEqual({
      status: 'FAILED',
      progress: { done: 1, total: 3, etaSeconds: null },
      jobFailed: false,
    });
  });

  it('is RUNNING while a job holding a missing α is active, with an ETA from the stored points', () => {
    const result = pathStatus({
      alphas,
      points: [point(0, 2000)],
      tasks: [task(0.5, 'active', 'a'), task(1, 'created', 'b')],
      failed: false,
    });
    // Two missing × 2 s each ÷ one running job.
    expect(result).toEqual({ status: 'RUNNING', progress: { done: 1, total: 3, etaSeconds: 4 }, jobFailed: false });
  });

  it('is PENDING while missing alphas wait in the queue (or for a retry), with no ETA before a first point', () => {
    expect(
      pathStatus({
        alphas,
        points: [],
        tasks: [task(0, 'created'), task(0.5, 'retry'), task(1, 'created')],
        failed: false,
      }),
    ).toEqual({
      status: 'PENDING',
      progress: { done: 0, total: 3, etaSeconds: null },
      jobFailed: false,
    });
  });

  it('is PARTIAL when missing alphas are not queued, or only by jobs that ended without failing (a stale task)', () => {
    expect(pathStatus({ alphas, points: [point(0)], tasks: [], failed: false }).status).toBe('PARTIAL');
    for (const state of ['completed', 'cancelled', null] as const) {
      expect(
        pathStatus({ alphas, points: [point(0)], tasks: [task(0.5, state), task(1, state)], failed: false }).status,
      ).toBe('PARTIAL');
    }
  });

  it('is FAILED when the job of a missing α ran out of retries, unless the α was queued again', () => {
    expect(
      pathStatus({ alphas, points: [point(0)], tasks: [task(0.5, 'failed'), task(1, 'created')], failed: false }),
    ).toMatchObject({
      status: 'FAILED',
      jobFailed: true,
    });
    expect(
      pathStatus({
        alphas,
        points: [point(0), point(0.5)],
        tasks: [task(0.5, 'failed'), task(1, 'created')],
        failed: false,
      }),
    ).toMatchObject({
      status: 'PENDING',
      jobFailed: false,
    });
  });

  it('ignores tasks of alphas nobody asked for', () => {
    expect(pathStatus({ alphas: [0], points: [], tasks: [task(0.5, 'active')], failed: false }).status).toBe('PARTIAL');
  });

  it('calls COMPLETE, FAILED and PARTIAL settled, and not PENDING or RUNNING', () => {
    expect(['COMPLETE', 'FAILED', 'PARTIAL', 'PENDING', 'RUNNING'].map((s) => isSettled(s as never))).toEqual([
      true,
      true,
      true,
      false,
      false,
    ]);
  });
});

describe('jobChunk', () => {
  it('takes LINPATH_JOB_ALPHAS when set', () => {
    expect(jobChunk({ jobAlphas: 3 }, 11_183_562, 500)).toBe(3);
  });

  it('sizes jobs from parameters × examples: a few α of ResNet-18, a whole grid of a small MLP, at least one', () => {
    expect(jobChunk({ jobAlphas: 0 }, 11_183_562, 500)).toBe(5);
    expect(jobChunk({ jobAlphas: 0 }, 4_481, 5000)).toBe(32);
    expect(jobChunk({ jobAlphas: 0 }, 11_183_562, 50_000)).toBe(1);
  });

  it('gives a block-wise path with prefix reuse the α that twice a plain job allows after the shared prefix, spread evenly', () => {
    // 500 images: 5.36 passes per plain job, so 10.7; layer4 of ResNet-18 runs ~0.25 of a pass per α after 0.75 once.
    expect(jobChunk({ jobAlphas: 0 }, 11_183_562, 500, { before: 0.75, after: 0.25, alphas: 11 })).toBe(11);
    expect(jobChunk({ jobAlphas: 0 }, 11_183_562, 500, { before: 0.75, after: 0.25, alphas: 50 })).toBe(25);
    // 50,000 images: a plain job is one α (one pass); 2 passes hold 5 α of layer4 (spread 4 + 4 + 3 over 11) …
    expect(jobChunk({ jobAlphas: 0 }, 11_183_562, 50_000, { before: 0.75, after: 0.25, alphas: 11 })).toBe(4);
    // … and 2 α of layer1, which runs almost the whole network per α (never less than 1).
    expect(jobChunk({ jobAlphas: 0 }, 11_183_562, 50_000, { before: 0.003, after: 0.997, alphas: 11 })).toBe(2);
    expect(jobChunk({ jobAlphas: 0 }, 11_183_562, 50_000, { before: 0.003, after: 1.5, alphas: 11 })).toBe(1);
    // fc: almost nothing per α, so one job for the whole grid (at most 32 α per job: 40 → 20 + 20).
    expect(jobChunk({ jobAlphas: 0 }, 11_183_562, 500, { before: 0.9999, after: 0.0001, alphas: 11 })).toBe(11);
    expect(jobChunk({ jobAlphas: 0 }, 11_183_562, 500, { before: 0.9999, after: 0.0001, alphas: 40 })).toBe(20);
    expect(jobChunk({ jobAlphas: 2 }, 11_183_562, 500, { before: 0.5, after: 0.5, alphas: 11 })).toBe(2);
  });
});

import { createHash } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import { pathBarrierMetrics } from '../../domain/barrier.metrics.js';
import { reportedMetrics } from '../../domain/losses.js';
import type { PathPointRow, PathRow } from '../../storage/paths.tables.js';

/** What analytics need of a stored point: its α and its tallies. */
export type CurvePoint = Pick<PathPointRow, 'pathId' | 'alpha' | 'lossSum' | 'correct' | 'n' | 'nonFinite'>;

/** The barrier measures of a curve's loss and error, as the domain computes them with default options. */
export type CurveBarriers = ReturnType<typeof pathBarrierMetrics>;

/**
 * The summary of a finished curve (every α of its grid stored): its points, every barrier measure of its loss
 * and error curves (pathBarrierMetrics, default options: new measures of the domain land here by themselves),
 * and the least and largest finite loss and error. Stored in path_summaries as JSON (non-finite loss sums as
 * strings), cached in process memory by the path's content key and grid.
 */
export interface CurveSummary {
  points: CurvePoint[];
  barriers: CurveBarriers;
  loss: { min: number | null; max: number | null };
  error: { min: number | null; max: number | null };
}

export function summarizeCurve(points: readonly CurvePoint[]): CurveSummary {
  const values = points.map((p) => ({ alpha: p.alpha, ...reportedMetrics(p) }));
  const range = (xs: Array<number | null>) => {
    const finite = xs.filter((x): x is number => x !== null && Number.isFinite(x));
    return finite.length === 0 ? { min: null, max: null } : { min: Math.min(...finite), max: Math.max(...finite) };
  };
  return {
    points: points.map(({ pathId, alpha, lossSum, correct, n, nonFinite }) => ({
      pathId,
      alpha,
      lossSum,
      correct,
      n,
      nonFinite,
    })),
    barriers: pathBarrierMetrics(values),
    loss: range(values.map((v) => v.loss)),
    error: range(values.map((v) => (v.accuracy === null ? null : 1 - v.accuracy))),
  };
}

/** Probe curves whose measures fingerprint the domain's barrier code: changed measures, another version. */
const PROBES = [
  [0.7, 0.9, 1.1, 0.8, 0.3, 0.1],
  [0.7, 0.69, 0.68, 0.6, 0.2, 0.05],
  [0.7, 0.5, 0.4, 0.3, 0.2, 0.1],
].map((losses) => losses.map((loss, i) => ({ alpha: i / (losses.length - 1), loss, accuracy: 1 - loss / 2 })));

/** The version of summaries this code writes and reads: a fingerprint of what the domain computes. */
export const SUMMARY_VERSION = createHash('sha256')
  .update(JSON.stringify(PROBES.map((probe) => pathBarrierMetrics(probe))))
  .digest('hex')
  .slice(0, 16);

/** The grid of a request as path_summaries keys it. */
export const gridKey = (alphas: readonly number[]): string => alphas.join(',');

/** A summary as JSON: loss sums that are not finite become strings ("NaN", "Infinity", "-Infinity"). */
export function encodeSummary(summary: CurveSummary): Record<string, unknown> {
  return {
    ...summary,
    points: summary.points.map(({ pathId: _pathId, ...p }) => ({
      ...p,
      lossSum: Number.isFinite(p.lossSum) ? p.lossSum : String(p.lossSum),
    })),
  };
}

export function decodeSummary(pathId: string, json: Record<string, unknown>): CurveSummary {
  const summary = json as unknown as CurveSummary & {
    points: Array<Omit<CurvePoint, 'lossSum' | 'pathId'> & { lossSum: number | string }>;
  };
  return {
    ...summary,
    points: summary.points.map((p) => ({ ...p, pathId, lossSum: Number(p.lossSum) })),
  };
}

/**
 * Finished curves in process memory, by the path's content key and grid. A finished curve never changes (its
 * points are memoized by content), so nothing is ever invalidated; the least recently used go first.
 */
export class CurveCache {
  private readonly cache: LRUCache<string, CurveSummary>;
  /** Finished path requests as interpolationPath answers them: the path's row and its points. */
  private readonly results: LRUCache<string, { path: PathRow; points: PathPointRow[] }>;

  constructor(maxCurves = 50_000, maxResults = 10_000) {
    this.cache = new LRUCache({ max: maxCurves });
    this.results = new LRUCache({ max: maxResults });
  }

  /** The content key a request planned to, by the identity of its rows (see storedPointsOfRows). */
  private readonly keys = new LRUCache<string, string>({ max: 100_000 });

  getKey(request: string): string | undefined {
    return this.keys.get(request);
  }

  setKey(request: string, key: string): void {
    this.keys.set(request, key);
  }

  getResult(key: string, grid: string): { path: PathRow; points: PathPointRow[] } | undefined {
    return this.results.get(`${grid}|${key}`);
  }

  setResult(key: string, grid: string, result: { path: PathRow; points: PathPointRow[] }): void {
    this.results.set(`${grid}|${key}`, result);
  }

  get(key: string, grid: string): CurveSummary | undefined {
    return this.cache.get(`${grid}|${key}`);
  }

  set(key: string, grid: string, summary: CurveSummary): void {
    this.cache.set(`${grid}|${key}`, summary);
  }
}

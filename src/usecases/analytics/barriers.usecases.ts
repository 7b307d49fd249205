import { pathBarrierMetrics, type BarrierOptions } from '../../domain/barrier.metrics.js';
import type { PathPoint } from '../paths/paths.usecases.js';

/** What the measures take of a stored point. */
export type BarrierPoint = Pick<PathPoint, 'alpha' | 'lossSum' | 'correct' | 'n'>;
import { reportedMetrics } from '../../domain/losses.js';

/** Loss and accuracy of stored points as the barrier metrics take them (null: non-finite). */
export const pointValues = (points: readonly BarrierPoint[]) =>
  points.map((p) => ({ alpha: p.alpha, ...reportedMetrics(p) }));

/** Barrier metrics of a path's loss and error curves, from its stored points (never stored themselves). */
export function pathBarriers(
  points: readonly BarrierPoint[],
  options: { loss?: BarrierOptions; error?: BarrierOptions } = {},
) {
  return pathBarrierMetrics(pointValues(points), options);
}

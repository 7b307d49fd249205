import { pathBarrierMetrics, type BarrierOptions } from '../../domain/barrier.metrics.js';
import type { PathPoint } from '../paths/paths.usecases.js';

/** Loss and accuracy of stored points as the barrier metrics take them (null: non-finite). */
export const pointValues = (points: readonly PathPoint[]) =>
  points.map((p) => {
    const loss = p.lossSum / p.n;
    return { alpha: p.alpha, loss: Number.isFinite(loss) ? loss : null, accuracy: p.correct / p.n };
  });

/** Barrier metrics of a path's loss and error curves, from its stored points (never stored themselves). */
export function pathBarriers(
  points: readonly PathPoint[],
  options: { loss?: BarrierOptions; error?: BarrierOptions } = {},
) {
  return pathBarrierMetrics(pointValues(points), options);
}

import { request } from '../api.js';
import { CurveWithBarriersDocument, type BnStatsMode, type CurveKind } from '../generated/graphql.js';
import type { Series } from './path.js';

export interface CurveRequest {
  from: string;
  to: string;
  bend: string;
  kind: CurveKind;
  dataset: string;
  ts: number[];
  limit: number | null;
  bnStats: BnStatsMode;
}

/**
 * Asks for a curve through a bend (curvePath, Garipov et al.'s Bezier or polychain) and fills `s` (t in the
 * place of α) with its points and barriers. It waits for the whole curve: curvePath measures the barriers of
 * the points stored so far in every answer and refuses fewer than two, so a curve just queued cannot be
 * followed point by point as a path is (planeUpdated has no counterpart for curves).
 */
export async function followCurve(s: Series, input: CurveRequest, render: () => void): Promise<void> {
  let stopped = false;
  s.stop = () => {
    stopped = true;
  };
  s.status = 'RUNNING';
  render();
  try {
    const { curvePath } = await request(CurveWithBarriersDocument, { input: { ...input, wait: true } });
    if (stopped) return;
    s.id = curvePath.id;
    s.status = curvePath.status;
    s.done = curvePath.progress.done;
    s.total = curvePath.progress.total;
    s.etaSeconds = curvePath.progress.etaSeconds;
    s.failure = curvePath.failure === null ? null : `${curvePath.failure.code}: ${curvePath.failure.message}`;
    for (const p of curvePath.points) s.points.set(p.t, { loss: p.loss, accuracy: p.accuracy });
    if (curvePath.status === 'COMPLETE') {
      s.barrier = curvePath.barrier;
      s.errorBarrier = curvePath.errorBarrier;
    }
  } catch (error) {
    s.status = 'ERROR';
    s.failure = (error as Error).message;
  }
  render();
}

import type { Point } from '../../src/domain/contours.js';
import { request, subscribe } from './api.js';
import {
  CreateDirectionDocument,
  PlaneUpdatedDocument,
  RequestPlaneDocument,
  type BnStatsMode,
  type LossPlaneInput,
  type PlaneStateFragment,
} from './generated/graphql.js';

/** What the plane view asks for. */
export type PlaneRequest = (
  | { kind: 'states'; a: string; b: string; c: string; orthogonal: boolean }
  | { kind: 'directions'; centre: string; seeds: [number, number] }
) & {
  x: [number, number];
  y: [number, number];
  resolution: number;
  dataset: string;
  limit: number | null;
  bnStats: BnStatsMode;
};

/** A plane as the view holds it while it fills in. */
export interface PlaneSnapshot {
  id: string | null;
  status: string;
  done: number;
  total: number;
  etaSeconds: number | null;
  failure: string | null;
  xs: number[];
  ys: number[];
  /** Stored points by j · xs.length + i. */
  points: Map<number, { i: number; j: number; loss: number | null; accuracy: number }>;
  markers: Array<{ label: string; x: number; y: number }>;
  line: { from: Point; to: Point } | null;
  xLabel: string;
  yLabel: string;
  /** What the request costs: points to compute, stored, the server's estimate and note. */
  cost: string;
}

/**
 * The lossPlane input of a request: a plane through three checkpoints as it is, or around a centre along
 * two directions, created first (createDirection: the same seed and centre give the same direction, so asking
 * again creates nothing; it is a mutation, so it needs an API key).
 */
async function planeInput(plane: PlaneRequest): Promise<LossPlaneInput> {
  const axes =
    plane.kind === 'states'
      ? { center: plane.a, xState: plane.b, yState: plane.c, orthogonalize: plane.orthogonal }
      : {
          center: plane.centre,
          xDirection: (
            await request(CreateDirectionDocument, { input: { center: plane.centre, seed: plane.seeds[0] } })
          ).createDirection.id,
          yDirection: (
            await request(CreateDirectionDocument, { input: { center: plane.centre, seed: plane.seeds[1] } })
          ).createDirection.id,
        };
  return {
    ...axes,
    range: { xMin: plane.x[0], xMax: plane.x[1], yMin: plane.y[0], yMax: plane.y[1] },
    resolution: plane.resolution,
    dataset: plane.dataset,
    limit: plane.limit,
    bnStats: plane.bnStats,
    wait: false,
  };
}

const failureText = (failure: { code: string; message: string } | null): string | null =>
  failure === null ? null : `${failure.code}: ${failure.message}`;

function snapshot(state: PlaneStateFragment, plane: PlaneRequest): PlaneSnapshot {
  const nx = state.xs.length;
  const markers = state.markers.map((m) => ({ label: m.label === 'CENTER' ? 'centre' : m.label, x: m.x, y: m.y }));
  const a = state.markers.find((m) => m.label === 'A' || m.label === 'CENTER');
  const b = state.markers.find((m) => m.label === 'B');
  const orthogonal = state.axes?.orthogonal === true;
  const { cost } = state;
  return {
    id: state.id,
    status: state.status,
    done: state.progress.done,
    total: state.progress.total,
    etaSeconds: state.progress.etaSeconds,
    failure: failureText(state.failure),
    xs: state.xs,
    ys: state.ys,
    points: new Map(state.points.map((p) => [p.j * nx + p.i, p])),
    markers,
    line: state.lineInPlane && a !== undefined && b !== undefined ? { from: a, to: b } : null,
    xLabel: plane.kind === 'states' ? 'x (along B − A)' : `x (direction of seed ${plane.seeds[0]})`,
    yLabel:
      plane.kind === 'states'
        ? orthogonal
          ? 'y (along C − A, orthogonal to B − A)'
          : 'y (along C − A)'
        : `y (direction of seed ${plane.seeds[1]})`,
    cost:
      cost.toCompute === 0
        ? `all ${cost.points} points stored`
        : `${cost.note} · about ${Math.ceil(cost.estimatedSeconds)} s of one worker`,
  };
}

/** Asks for a plane without waiting: the stored points at once, the missing ones queued. */
export async function requestPlane(plane: PlaneRequest): Promise<{ snapshot: PlaneSnapshot; input: LossPlaneInput }> {
  const input = await planeInput(plane);
  const { lossPlane } = await request(RequestPlaneDocument, { input });
  return { snapshot: snapshot(lossPlane, plane), input };
}

/** Follows a queued plane through planeUpdated until it settles; returns a function that stops following. */
export function followPlane(
  current: PlaneSnapshot,
  input: LossPlaneInput,
  handlers: { update(next: PlaneSnapshot): void; done(): void },
): () => void {
  let plane = current;
  return subscribe(
    PlaneUpdatedDocument,
    { input },
    {
      next: ({ planeUpdated }) => {
        const points = new Map(plane.points);
        const p = planeUpdated.point;
        if (p !== null) points.set(p.j * plane.xs.length + p.i, p);
        plane = {
          ...plane,
          points,
          status: planeUpdated.status,
          done: planeUpdated.progress.done,
          total: planeUpdated.progress.total,
          etaSeconds: planeUpdated.progress.etaSeconds,
          failure: failureText(planeUpdated.failure) ?? plane.failure,
        };
        handlers.update(plane);
      },
      error: (error) => {
        plane = { ...plane, status: 'ERROR', failure: error.message };
        handlers.update(plane);
        handlers.done();
      },
      complete: handlers.done,
    },
  );
}

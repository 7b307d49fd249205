import { createHash } from 'node:crypto';
import { distance, distanceTensors, type DistanceMetric } from '../../domain/distances.js';
import type { DistanceRow } from '../../storage/analytics.tables.js';
import type { CheckpointRow } from '../../storage/registry.tables.js';
import { resolveEndpoints, type Endpoints } from '../paths/path-plan.js';
import type { AnalyticsDeps } from './analytics.deps.js';

export interface DistanceInput {
  from: string;
  to: string;
  metric: DistanceMetric;
  blocks?: readonly string[] | null | undefined;
}

/**
 * A distance between two checkpoints (optionally over some blocks), memoized in Postgres by content: both
 * pinned objects, the metric and the tensors it covers.
 */
export async function checkpointDistance(
  deps: AnalyticsDeps,
  input: DistanceInput,
): Promise<{ distance: DistanceRow; cached: boolean }>;
/** With compute: false, only a stored distance is returned (undefined when there is none). */
export async function checkpointDistance(
  deps: AnalyticsDeps,
  input: DistanceInput,
  options: { compute: boolean },
): Promise<{ distance: DistanceRow; cached: boolean } | undefined>;
export async function checkpointDistance(
  deps: AnalyticsDeps,
  input: DistanceInput,
  options: { compute: boolean } = { compute: true },
): Promise<{ distance: DistanceRow; cached: boolean } | undefined> {
  const endpoints = await resolveEndpoints(deps.paths, input);
  const { from, to, graph, selection } = endpoints;
  const key = distanceKey(endpoints, input.metric);
  const stored = await deps.analytics.findDistance(key);
  if (stored !== undefined) return { distance: stored, cached: true };
  if (!options.compute) return undefined;

  const [a, b] = await Promise.all([deps.paths.states.get(from), deps.paths.states.get(to)]);
  const tensors = graph.state.filter((s) => s.kind === 'float');
  const restrict = selection.moving === 'all' ? undefined : selection.moving;
  const value = distance(input.metric, a.tensors, b.tensors, tensors, restrict);
  const covered = distanceTensors(input.metric, tensors, restrict).length;
  const row = await deps.analytics.insertDistance({
    key,
    fromCheckpointId: from.id,
    toCheckpointId: to.id,
    metric: input.metric,
    blocks: selection.blocks ?? null,
    tensorCount: covered,
    value,
  });
  return { distance: row, cached: false };
}

/** The content key of a distance: both pinned objects, the metric and the tensors it covers. */
export function distanceKey(endpoints: Endpoints, metric: DistanceMetric): string {
  const { from, to, selection } = endpoints;
  const identity = (c: CheckpointRow) => `${c.uri}@${c.etag}:${c.size}`;
  return createHash('sha256')
    .update(
      JSON.stringify([identity(from), identity(to), metric, selection.moving === 'all' ? '*' : selection.movingNames]),
    )
    .digest('hex');
}

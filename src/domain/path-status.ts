/**
 * Where a request for some alphas of a path stands:
 * - COMPLETE: every requested α is stored.
 * - FAILED: the path's evaluation failed for good, or the job of a missing α ran out of retries (its
 *   workers died or it ran past its expiry); a message says why.
 * - RUNNING: a worker is evaluating some of the missing alphas.
 * - PENDING: the missing alphas are queued and no worker has started on them.
 * - PARTIAL: some alphas are missing and none of them is queued (its work was cancelled).
 */
export type PathStatus = 'PENDING' | 'RUNNING' | 'PARTIAL' | 'COMPLETE' | 'FAILED';

export interface PathProgress {
  done: number;
  total: number;
  /** Rough: missing alphas × the mean evaluation time of this path's stored points ÷ the jobs running on it. */
  etaSeconds: number | null;
}

export type JobState = 'created' | 'retry' | 'active' | 'completed' | 'cancelled' | 'failed' | null;

export interface StatusInput {
  alphas: readonly number[];
  /** Every stored point of the path (the ETA uses their durations). */
  points: ReadonlyArray<{ alpha: number; durationMs: number }>;
  tasks: ReadonlyArray<{ alpha: number; jobId: string; jobState: JobState }>;
  failed: boolean;
}

const LIVE: ReadonlySet<JobState> = new Set(['created', 'retry', 'active']);

export function pathStatus({ alphas, points, tasks, failed }: StatusInput): {
  status: PathStatus;
  progress: PathProgress;
  jobFailed: boolean;
} {
  const stored = new Set(points.map((p) => p.alpha));
  const requested = new Set(alphas);
  const missing = alphas.filter((a) => !stored.has(a));
  const live = tasks.filter((t) => requested.has(t.alpha) && !stored.has(t.alpha) && LIVE.has(t.jobState));
  const running = new Set(live.filter((t) => t.jobState === 'active').map((t) => t.jobId));
  const liveAlphas = new Set(live.map((t) => t.alpha));
  // A missing α whose job failed (and that nothing else is queued for): its retries ran out.
  const jobFailed = tasks.some(
    (t) => requested.has(t.alpha) && !stored.has(t.alpha) && t.jobState === 'failed' && !liveAlphas.has(t.alpha),
  );

  const status: PathStatus = failed
    ? 'FAILED'
    : missing.length === 0
      ? 'COMPLETE'
      : jobFailed
        ? 'FAILED'
        : running.size > 0
          ? 'RUNNING'
          : live.length > 0
            ? 'PENDING'
            : 'PARTIAL';
  const meanSeconds =
    points.length === 0 ? null : points.reduce((sum, p) => sum + p.durationMs, 0) / points.length / 1000;
  const etaSeconds =
    missing.length === 0
      ? 0
      : status === 'FAILED' || status === 'PARTIAL' || meanSeconds === null
        ? null
        : (missing.length * meanSeconds) / Math.max(1, running.size);
  return {
    status,
    progress: { done: alphas.length - missing.length, total: alphas.length, etaSeconds },
    jobFailed: jobFailed && !failed && missing.length > 0,
  };
}

/** True when nothing more will happen to the request without a new one. */
export const isSettled = (status: PathStatus): boolean =>
  status === 'COMPLETE' || status === 'FAILED' || status === 'PARTIAL';

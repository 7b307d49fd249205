import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { EvalQueue } from '../queue/eval-queue.js';
import type { WorkerObserver } from '../usecases/task-job.js';
import type { CheckpointStateCache } from '../storage/checkpoint-state.js';

/**
 * Prometheus metrics of one linpath process (API node or worker), served at /metrics. Points per second
 * is `rate(linpath_points_evaluated_total[1m])`; the checkpoint cache hit ratio is
 * `linpath_checkpoint_cache_hits_total / (… + linpath_checkpoint_reads_total)`.
 */
export class Metrics implements WorkerObserver {
  readonly registry = new Registry();
  private readonly points: Counter<'engine'>;
  private readonly seconds: Histogram<'engine'>;
  private readonly jobs: Counter<'outcome'>;

  constructor(queue: EvalQueue, checkpoints: CheckpointStateCache) {
    collectDefaultMetrics({ register: this.registry, prefix: 'linpath_' });
    this.points = new Counter({
      name: 'linpath_points_evaluated_total',
      help: 'Points (path, α) evaluated by the workers of this process.',
      labelNames: ['engine'],
      registers: [this.registry],
    });
    this.seconds = new Histogram({
      name: 'linpath_point_evaluation_seconds',
      help: 'Time to evaluate one point: θ(α), bound to the engine, over all of its examples.',
      labelNames: ['engine'],
      buckets: [0.01, 0.05, 0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300],
      registers: [this.registry],
    });
    this.jobs = new Counter({
      name: 'linpath_jobs_total',
      help: 'Evaluation jobs ended by the workers of this process, by outcome.',
      labelNames: ['outcome'],
      registers: [this.registry],
    });
    new Gauge({
      name: 'linpath_queue_jobs',
      help: 'Evaluation jobs in the queue (all processes), by state: created (waiting), retry, active.',
      labelNames: ['state'],
      registers: [this.registry],
      async collect() {
        const depth = await queue.depth();
        for (const [state, count] of Object.entries(depth)) this.set({ state }, count);
      },
    });
    new Counter({
      name: 'linpath_checkpoint_cache_hits_total',
      help: 'Checkpoint states found decoded in memory.',
      registers: [this.registry],
      collect() {
        this.reset();
        this.inc(checkpoints.stats.hits);
      },
    });
    new Counter({
      name: 'linpath_checkpoint_reads_total',
      help: 'Checkpoint states read from the object store (cache misses).',
      registers: [this.registry],
      collect() {
        this.reset();
        this.inc(checkpoints.stats.reads);
      },
    });
  }

  pointEvaluated(engine: string, seconds: number): void {
    this.points.inc({ engine });
    this.seconds.observe({ engine }, seconds);
  }

  jobEnded(outcome: Parameters<WorkerObserver['jobEnded']>[0]): void {
    this.jobs.inc({ outcome });
  }
}

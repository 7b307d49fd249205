import { eq } from 'drizzle-orm';
import type { Db } from '../../src/storage/database.js';
import { pathPointsTable, pathsTable } from '../../src/storage/paths.tables.js';
import { checkpointsTable, runsTable, type CheckpointRow, type DatasetRow } from '../../src/storage/registry.tables.js';
import { endpointsOf, planPathOf } from '../../src/usecases/paths/path-plan.js';
import type { PathDeps } from '../../src/usecases/paths/paths.deps.js';
import { DEFAULT_ALPHAS } from '../../src/usecases/paths/paths.usecases.js';

/**
 * Runs with every point of their INITIAL → FINAL path already stored, written straight to the database (as
 * bench/analytics.bench.mjs does, see docs/performance-analytics.md): run i (from `start`) is a copy of the
 * template run whose two checkpoints pin `<etag>-seed-<i>` (so each run's path has its own content key), on
 * the default alphas, with a curve made from i alone:
 *   loss(α) = (1 − α)·0.69 + α·e + h·4α(1 − α),  e = 0.05 + 0.3·u₁, h = 0.4·u₂ − 0.1,
 *   accuracy(α) = 0.5 + α·(0.45 − 0.3·u₁) − max(0, h)·α(1 − α),
 * u₁, u₂ in [0, 1) from a hash of i. `blocks`: the block-wise paths too (the same curves, scaled).
 */
export async function seedStoredRuns(
  deps: { db: Db; paths: Pick<PathDeps, 'registry' | 'settings' | 'architectures'> },
  template: { initial: CheckpointRow; final: CheckpointRow; dataset: DatasetRow },
  count: number,
  options: { start?: number; prefix?: string; blocks?: readonly string[]; chunk?: number } = {},
): Promise<void> {
  const start = options.start ?? 0;
  const prefix = options.prefix ?? 'seed';
  const chunk = options.chunk ?? 500;
  for (let from = start; from < start + count; from += chunk) {
    const indices = Array.from({ length: Math.min(chunk, start + count - from) }, (_, k) => from + k);
    const runs = await deps.db
      .insert(runsTable)
      .values(
        indices.map((i) => ({
          name: `${prefix}-${String(i).padStart(6, '0')}`,
          architecture: template.final.architecture,
          datasetName: template.dataset.name,
          hyperparameters: { lr: [0.1, 0.03, 0.01, 0.003][i % 4], width: 50, seed: i },
          seed: i,
          tags: [prefix],
        })),
      )
      .returning();
    const copy = (row: CheckpointRow, runId: string, i: number) => {
      const { id: _id, createdAt: _createdAt, ...rest } = row;
      return { ...rest, runId, etag: `${row.etag}-seed-${i}` };
    };
    const checkpoints = await deps.db
      .insert(checkpointsTable)
      .values(
        runs.flatMap((run, k) => [
          copy(template.initial, run.id, indices[k]!),
          copy(template.final, run.id, indices[k]!),
        ]),
      )
      .returning();
    const pathRows: Array<typeof pathsTable.$inferInsert> = [];
    const curves: Array<{ i: number; scale: number }> = [];
    for (const [k, run] of runs.entries()) {
      const initial = checkpoints.find((c) => c.runId === run.id && c.role === 'INITIAL')!;
      const final = checkpoints.find((c) => c.runId === run.id && c.role === 'FINAL')!;
      for (const blocks of [null, ...(options.blocks ?? []).map((b) => [b])]) {
        const input = { from: initial.id, to: final.id, dataset: template.dataset.id, blocks };
        const plan = await planPathOf(
          deps.paths,
          await endpointsOf(deps.paths, initial, final, blocks),
          async () => template.dataset,
          input,
        );
        pathRows.push({
          key: plan.key,
          fromCheckpointId: initial.id,
          toCheckpointId: final.id,
          datasetId: template.dataset.id,
          blocks: plan.selection.blocks ?? null,
          movingTensorCount: plan.selection.movingNames.length,
          exampleCount: plan.limit,
        });
        curves.push({ i: indices[k]!, scale: blocks === null ? 1 : 0.5 });
      }
    }
    const paths = await deps.db.insert(pathsTable).values(pathRows).returning({ id: pathsTable.id });
    const n = template.dataset.exampleCount;
    const points = paths.flatMap((path, p) =>
      DEFAULT_ALPHAS.map((alpha) => {
        const { loss, accuracy } = seededCurve(curves[p]!.i, alpha, curves[p]!.scale);
        return {
          pathId: path.id,
          alpha,
          lossSum: loss * n,
          correct: Math.round(accuracy * n),
          n,
          nonFinite: 0,
          engine: 'seed',
          engineVersion: '0',
          durationMs: 1,
        };
      }),
    );
    for (let k = 0; k < points.length; k += 2000)
      await deps.db.insert(pathPointsTable).values(points.slice(k, k + 2000));
  }
}

/** The template run: its INITIAL and FINAL checkpoints, by name. */
export async function templateCheckpoints(
  db: Db,
  runId: string,
): Promise<{ initial: CheckpointRow; final: CheckpointRow }> {
  const rows = await db.select().from(checkpointsTable).where(eq(checkpointsTable.runId, runId));
  return {
    initial: rows.find((c) => c.role === 'INITIAL')!,
    final: rows.find((c) => c.role === 'FINAL')!,
  };
}

/** Two numbers in [0, 1) from i (a 32-bit integer hash). */
function uniforms(i: number): [number, number] {
  let h = Math.imul(i + 0x9e3779b9, 0x85ebca6b) >>> 0;
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35) >>> 0;
  const a = (h ^ (h >>> 16)) >>> 0;
  const b = Math.imul(a ^ 0x27d4eb2f, 0x165667b1) >>> 0;
  return [a / 2 ** 32, ((b ^ (b >>> 15)) >>> 0) / 2 ** 32];
}

export function seededCurve(i: number, alpha: number, scale = 1): { loss: number; accuracy: number } {
  const [u1, u2] = uniforms(i);
  const end = 0.05 + 0.3 * u1;
  const height = 0.4 * u2 - 0.1;
  const loss = scale * ((1 - alpha) * 0.69 + alpha * end + height * 4 * alpha * (1 - alpha));
  const accuracy = 0.5 + alpha * (0.45 - 0.3 * u1) - Math.max(0, height) * alpha * (1 - alpha);
  return { loss, accuracy };
}

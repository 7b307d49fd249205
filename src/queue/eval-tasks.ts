/**
 * The two kinds of evaluation work on the one queue: alphas of a path and points of a combination (planes,
 * curves). Each kind has its task table (the single flight), its memo table and the row that fails; EvalQueue
 * runs the same statements on either.
 */
/** The queue every evaluation goes through, on the database linpath uses (Postgres or the embedded PGlite). */
export const EVALUATE_QUEUE = 'linpath-evaluate';

export interface JobCommon {
  /** The engine the request named; null: the worker's own (LINPATH_ENGINE or `linpath worker --engine`). */
  engine: 'onnx' | 'tfjs' | null;
  /** Who queued the job (Requester.bucket); absent: the CLI or a tool, not counted by the quotas. */
  owner?: string;
  anonymous?: boolean;
  /** Paths only: adaptive α (usecases/paths/refinement.ts), opaque here: how the alphas were chosen, what next. */
  refinement?: JobRefinement;
}
export type JobRefinement = { chosenBy: 'GRID' | 'REFINEMENT'; spec: Record<string, unknown> };

/** A job of alphas of a path. */
export interface PathJob extends JobCommon {
  pathId: string;
  alphas: number[];
}

/** A job of points of a combination (planes, curves), by coefficient key. */
export interface CombinationJob extends JobCommon {
  combinationId: string;
  points: string[];
}

export type EvaluateJob = PathJob | CombinationJob;

export const isCombinationJob = (data: EvaluateJob): data is CombinationJob => 'combinationId' in data;

/** Where the tasks of one kind of work live: the task table, the memo table and the row that can fail. */
export interface TaskTables {
  tasks: string;
  points: string;
  owners: string;
  owner: string;
  key: string;
  keyType: 'float8' | 'text';
  job(owner: string, keys: Array<number | string>, common: JobCommon): EvaluateJob;
  keysOf(data: EvaluateJob): Array<number | string>;
}

export const PATH_TASKS: TaskTables = {
  tasks: 'path_tasks',
  points: 'path_points',
  owners: 'paths',
  owner: 'path_id',
  key: 'alpha',
  keyType: 'float8',
  job: (pathId, keys, common) => ({ pathId, alphas: keys as number[], ...common }),
  keysOf: (data) => (data as PathJob).alphas,
};

export const COMBINATION_TASKS: TaskTables = {
  tasks: 'combination_tasks',
  points: 'combination_points',
  owners: 'combinations',
  owner: 'combination_id',
  key: 'coefficients',
  keyType: 'text',
  job: (combinationId, keys, common) => ({ combinationId, points: keys as string[], ...common }),
  keysOf: (data) => (data as CombinationJob).points,
};

export const tablesOf = (data: EvaluateJob): TaskTables => (isCombinationJob(data) ? COMBINATION_TASKS : PATH_TASKS);

import { sql } from 'drizzle-orm';
import {
  bigint,
  bigserial,
  check,
  index,
  integer,
  jsonb,
  pgEnum,
  pgTable,
  text,
  timestamp,
  unique,
  uniqueIndex,
  uuid,
} from 'drizzle-orm/pg-core';

/** The tensors and metadata of a safetensors header, kept so `checkpoint { tensors }` needs no S3 call. */
export interface HeaderSummary {
  headerLength: number;
  metadata: Record<string, string>;
  tensors: Array<{ name: string; dtype: string; shape: number[]; begin: number; end: number }>;
}

export const checkpointRole = pgEnum('checkpoint_role', ['INITIAL', 'INTERMEDIATE', 'FINAL', 'DERIVED']);
export const datasetSplit = pgEnum('dataset_split', ['TRAIN', 'VALIDATION', 'TEST']);
export const labelKind = pgEnum('label_kind', ['CLASS_INDEX', 'FLOAT_TARGET']);
export const datasetFormat = pgEnum('dataset_format', ['SAFETENSORS', 'CIFAR10_BINARY', 'MNIST_IDX']);

/** How stored image examples order their axes; examples are always loaded channels-first (NCHW). */
export type InputLayout = 'NCHW' | 'NHWC';

/** Per-channel normalisation in stored value units, applied at load as x = (v − mean_c) / std_c. */
export interface Normalization {
  mean: number[];
  std: number[];
}

export const runsTable = pgTable(
  'runs',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    /** Creation order; the cursor of the `runs` connection. */
    seq: bigserial('seq', { mode: 'number' }).notNull().unique(),
    name: text('name').notNull().unique(),
    architecture: text('architecture'),
    datasetName: text('dataset_name'),
    hyperparameters: jsonb('hyperparameters').$type<Record<string, unknown>>().notNull().default({}),
    seed: bigint('seed', { mode: 'number' }),
    tags: text('tags')
      .array()
      .notNull()
      .default(sql`'{}'::text[]`),
    reportedMetrics: jsonb('reported_metrics').$type<Record<string, unknown>>().notNull().default({}),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index('runs_tags_idx').using('gin', t.tags), index('runs_architecture_idx').on(t.architecture)],
);

/** Columns shared by every registered S3 object: where it is and which exact contents were pinned. */
const storedObjectColumns = () => ({
  uri: text('uri').notNull(),
  bucket: text('bucket').notNull(),
  key: text('key').notNull(),
  size: bigint('size', { mode: 'number' }).notNull(),
  etag: text('etag').notNull(),
  sha256: text('sha256'),
  header: jsonb('header').$type<HeaderSummary>().notNull(),
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
});

/** The lineage of a derived checkpoint: the operation, its parent checkpoints and its arguments. */
export interface Derivation {
  operation: 'RANDOM_INIT' | 'INTERPOLATE' | 'COMPOSE' | 'DIRECTION';
  parents: string[];
  arguments: Record<string, unknown>;
}

export const checkpointsTable = pgTable(
  'checkpoints',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    runId: uuid('run_id')
      .notNull()
      .references(() => runsTable.id, { onDelete: 'restrict' }),
    step: bigint('step', { mode: 'number' }).notNull(),
    role: checkpointRole('role').notNull(),
    architecture: text('architecture'),
    tensorCount: integer('tensor_count').notNull(),
    parameterCount: bigint('parameter_count', { mode: 'number' }).notNull(),
    elementCount: bigint('element_count', { mode: 'number' }).notNull(),
    /** How linpath computed a DERIVED checkpoint from others; null for checkpoints it was given. */
    derivation: jsonb('derivation').$type<Derivation>(),
    ...storedObjectColumns(),
  },
  (t) => [
    unique('checkpoints_run_role_step_key').on(t.runId, t.role, t.step),
    check('checkpoints_step_nonnegative', sql`${t.step} >= 0`),
    // A run starts once and ends once; intermediate and derived checkpoints may be many.
    uniqueIndex('checkpoints_run_endpoint_key')
      .on(t.runId, t.role)
      .where(sql`${t.role} in ('INITIAL', 'FINAL')`),
    // Paths are keyed by content: the run-metric reads find every registration of a checkpoint's object.
    index('checkpoints_object_idx').on(t.bucket, t.key, t.etag),
  ],
);

export const datasetsTable = pgTable(
  'datasets',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    seq: bigserial('seq', { mode: 'number' }).notNull().unique(),
    name: text('name').notNull(),
    split: datasetSplit('split').notNull(),
    inputKey: text('input_key').notNull(),
    labelKey: text('label_key').notNull(),
    exampleCount: integer('example_count').notNull(),
    inputShape: integer('input_shape').array().notNull(),
    inputDtype: text('input_dtype').notNull(),
    labelKind: labelKind('label_kind').notNull(),
    labelDtype: text('label_dtype').notNull(),
    /** For CLASS_INDEX labels: max label + 1. */
    numClasses: integer('num_classes'),
    format: datasetFormat('format').notNull().default('SAFETENSORS'),
    /** Axis order of stored image examples ([C,H,W] or [H,W,C]); null when examples are not images. */
    inputLayout: text('input_layout').$type<InputLayout>(),
    normalization: jsonb('normalization').$type<Normalization>(),
    ...storedObjectColumns(),
    /** The separate labels object (MNIST_IDX), pinned like the main object. */
    labelsUri: text('labels_uri'),
    labelsBucket: text('labels_bucket'),
    labelsKey: text('labels_key'),
    labelsSize: bigint('labels_size', { mode: 'number' }),
    labelsEtag: text('labels_etag'),
    labelsSha256: text('labels_sha256'),
  },
  (t) => [unique('datasets_name_split_key').on(t.name, t.split)],
);

export type RunRow = typeof runsTable.$inferSelect;
export type CheckpointRow = typeof checkpointsTable.$inferSelect;
/** A checkpoint without its tensor header: enough to name it and its pinned object. */
export type CheckpointRef = Omit<CheckpointRow, 'header'>;
export type DatasetRow = typeof datasetsTable.$inferSelect;

/** A parameter of a user architecture: its state_dict name and shape. */
export interface ArchitectureParameter {
  name: string;
  shape: number[];
}

/**
 * Architectures defined by an ONNX export (docs/architectures.md): the export is a content-addressed object in
 * the bucket, pinned like a checkpoint; what the registry needs without reading it (the parameter table, shapes,
 * ops) is kept here. A name points at one graph for good.
 */
export const architecturesTable = pgTable('architectures', {
  id: uuid('id').primaryKey().defaultRandom(),
  name: text('name').notNull().unique(),
  uri: text('uri').notNull(),
  bucket: text('bucket').notNull(),
  key: text('key').notNull(),
  size: bigint('size', { mode: 'number' }).notNull(),
  etag: text('etag').notNull(),
  sha256: text('sha256').notNull(),
  opset: integer('opset').notNull(),
  /** Per-example input shape, e.g. [3, 64, 64]. */
  inputShape: jsonb('input_shape').$type<number[]>().notNull(),
  /** Logits per example. */
  outputs: integer('outputs').notNull(),
  parameters: jsonb('parameters').$type<ArchitectureParameter[]>().notNull(),
  /** Op types and counts, in order of first occurrence. */
  ops: jsonb('ops').$type<{ op: string; count: number }[]>().notNull(),
  /** Op types with no form in the model IR: non-empty means ONNX Runtime runs the export itself. */
  unsupportedOps: jsonb('unsupported_ops').$type<string[]>().notNull(),
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
});

export type ArchitectureRow = typeof architecturesTable.$inferSelect;

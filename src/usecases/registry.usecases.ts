import { badUserInput, notFound } from '../errors.js';
import { formatS3Uri, parseS3Uri, type ObjectRef, type ObjectStore, type ObjectVersion } from '../storage/object-store.js';
import type { RegistryRepository, RunFilter } from '../storage/registry.repository.js';
import type { CheckpointRow, DatasetRow, HeaderSummary, RunRow } from '../storage/registry.tables.js';
import type { Dtype, SafetensorsHeader, TensorInfo } from '../storage/safetensors.codec.js';
import {
  fileSource,
  objectSource,
  readSafetensorsHeader,
  readTensor,
  sha256File,
  type ByteSource,
} from '../storage/safetensors.source.js';

export type CheckpointRole = CheckpointRow['role'];
export type DatasetSplit = DatasetRow['split'];

export interface RegistryDeps {
  repository: RegistryRepository;
  store: ObjectStore;
  maxHeaderBytes: number;
}

export interface CreateRunInput {
  name: string;
  architecture?: string | null | undefined;
  datasetName?: string | null | undefined;
  hyperparameters?: Record<string, unknown> | null | undefined;
  seed?: number | null | undefined;
  tags?: string[] | null | undefined;
  reportedMetrics?: Record<string, unknown> | null | undefined;
}

export interface RegisterCheckpointInput {
  /** A run id, or the name of a run. */
  run: string;
  step: number;
  role: CheckpointRole;
  uri: string;
  architecture?: string | null | undefined;
}

export interface RegisterDatasetInput {
  name: string;
  split: DatasetSplit;
  uri: string;
  inputKey?: string | null | undefined;
  labelKey?: string | null | undefined;
}

/** Labels are read in full at registration (to count classes); beyond this a dataset is refused. */
const MAX_LABEL_BYTES = 64 * 1024 * 1024;
const FLOAT_DTYPES: readonly Dtype[] = ['F64', 'F32', 'F16', 'BF16'];
const INTEGER_DTYPES: readonly Dtype[] = ['I64', 'I32', 'I16', 'I8', 'U64', 'U32', 'U16', 'U8'];
/** BatchNorm buffers: state, but not parameters. */
const BUFFER_SUFFIXES = ['.running_mean', '.running_var', '.num_batches_tracked'];
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

// ---------------------------------------------------------------------------------------------- runs

export async function createRun(deps: Pick<RegistryDeps, 'repository'>, input: CreateRunInput): Promise<RunRow> {
  return deps.repository.insertRun(validateRun(input));
}

export async function getRun(deps: Pick<RegistryDeps, 'repository'>, id: string): Promise<RunRow> {
  const run = UUID.test(id) ? await deps.repository.findRunById(id) : undefined;
  if (run === undefined) throw notFound(`no run with id "${id}"`);
  return run;
}

export interface RunPage {
  runs: Array<{ run: RunRow; cursor: string }>;
  hasNextPage: boolean;
}

export const MAX_PAGE_SIZE = 500;

export async function listRuns(
  deps: Pick<RegistryDeps, 'repository'>,
  args: { first: number; after?: string | null | undefined; filter?: RunFilter | null | undefined },
): Promise<RunPage> {
  if (!Number.isInteger(args.first) || args.first < 0 || args.first > MAX_PAGE_SIZE) {
    throw badUserInput(`first: expected an integer from 0 to ${MAX_PAGE_SIZE}, got ${args.first}`);
  }
  const afterSeq = args.after == null ? undefined : decodeCursor(args.after);
  const rows = await deps.repository.listRuns(args.filter ?? {}, args.first + 1, afterSeq);
  return {
    runs: rows.slice(0, args.first).map((run) => ({ run, cursor: encodeCursor(run.seq) })),
    hasNextPage: rows.length > args.first,
  };
}

const encodeCursor = (seq: number): string => Buffer.from(`run:${seq}`).toString('base64url');

function decodeCursor(cursor: string): number {
  const match = /^run:(\d{1,15})$/.exec(Buffer.from(cursor, 'base64url').toString('utf8'));
  if (match === null) throw badUserInput(`after: expected a cursor returned by runs { edges { cursor } }, got "${cursor}"`);
  return Number(match[1]);
}

export async function checkpointsOfRun(deps: Pick<RegistryDeps, 'repository'>, runId: string): Promise<CheckpointRow[]> {
  return deps.repository.checkpointsOfRun(runId);
}

// ---------------------------------------------------------------------------------------- checkpoints

export async function getCheckpoint(deps: Pick<RegistryDeps, 'repository'>, id: string): Promise<CheckpointRow> {
  const checkpoint = UUID.test(id) ? await deps.repository.findCheckpoint(id) : undefined;
  if (checkpoint === undefined) throw notFound(`no checkpoint with id "${id}"`);
  return checkpoint;
}

/**
 * Registers a safetensors object already in the bucket. Only the header is read (two range requests), and
 * the object's size and ETag are pinned: later reads of other contents fail with CONFLICT.
 */
export async function registerCheckpoint(
  deps: RegistryDeps,
  input: RegisterCheckpointInput,
  options: { sha256?: string; createRun?: boolean } = {},
): Promise<{ checkpoint: CheckpointRow; run: RunRow; created: boolean }> {
  const step = validateStep(input.step);
  const architecture = validateOptionalName('architecture', input.architecture);
  const ref = parseS3Uri(input.uri, deps.store.readableBuckets);
  const runKey = input.run.trim();
  if (runKey === '') throw badUserInput('run: expected a run id or name, got an empty string');
  const existingRun = UUID.test(runKey)
    ? await deps.repository.findRunById(runKey)
    : await deps.repository.findRunByName(runKey);
  if (existingRun === undefined && !options.createRun) {
    throw notFound(`no run with id or name "${runKey}"; create it first with createRun`);
  }

  const { version, header } = await readObjectHeader(deps, ref);
  if (header.tensors.length === 0) throw badUserInput(`${formatS3Uri(ref)}: expected a checkpoint with tensors, got none`);
  const counts = countElements(header.tensors);

  const { checkpoint, created } = await deps.repository.insertCheckpoint(
    {
      step,
      role: input.role,
      architecture: architecture ?? existingRun?.architecture ?? null,
      tensorCount: header.tensors.length,
      parameterCount: counts.parameters,
      elementCount: counts.elements,
      ...storedObject(ref, version, header, options.sha256),
    },
    existingRun !== undefined ? { id: existingRun.id } : { create: validateRun({ name: runKey, architecture }) },
  );
  const run = existingRun ?? (await deps.repository.findRunById(checkpoint.runId))!;
  return { checkpoint, run, created };
}

/** Uploads a local checkpoint file (validated first, so a bad file is never stored) and registers it. */
export async function importCheckpointFile(
  deps: RegistryDeps,
  filePath: string,
  input: Omit<RegisterCheckpointInput, 'uri'>,
): Promise<{ checkpoint: CheckpointRow; run: RunRow; created: boolean }> {
  validateStep(input.step);
  validateOptionalName('architecture', input.architecture);
  const { sha256, ref } = await uploadValidated(deps, filePath, async (header) => {
    if (header.tensors.length === 0) throw badUserInput(`${filePath}: expected a checkpoint with tensors, got none`);
  });
  return registerCheckpoint(deps, { ...input, uri: formatS3Uri(ref) }, { sha256, createRun: true });
}

// ------------------------------------------------------------------------------------------- datasets

export async function getDataset(deps: Pick<RegistryDeps, 'repository'>, id: string): Promise<DatasetRow> {
  const dataset = UUID.test(id) ? await deps.repository.findDataset(id) : undefined;
  if (dataset === undefined) throw notFound(`no dataset with id "${id}"`);
  return dataset;
}

export async function listDatasets(deps: Pick<RegistryDeps, 'repository'>): Promise<DatasetRow[]> {
  return deps.repository.listDatasets();
}

/**
 * Registers a dataset stored as safetensors: inputs under `inputKey` ([N, ...], float or U8), labels under
 * `labelKey` ([N], integer class indices; or float targets [N] / [N, K]). Reads the header and the labels.
 */
export async function registerDataset(
  deps: RegistryDeps,
  input: RegisterDatasetInput,
  options: { sha256?: string } = {},
): Promise<{ dataset: DatasetRow; created: boolean }> {
  const name = validateName('name', input.name);
  const inputKey = validateTensorKey('inputKey', input.inputKey ?? 'x');
  const labelKey = validateTensorKey('labelKey', input.labelKey ?? 'y');
  const ref = parseS3Uri(input.uri, deps.store.readableBuckets);
  const { version, header, source } = await readObjectHeader(deps, ref);
  const shape = await inspectDataset(source, header, inputKey, labelKey);
  return deps.repository.insertDataset({
    name,
    split: input.split,
    inputKey,
    labelKey,
    ...shape,
    ...storedObject(ref, version, header, options.sha256),
  });
}

export async function importDatasetFile(
  deps: RegistryDeps,
  filePath: string,
  input: Omit<RegisterDatasetInput, 'uri'>,
): Promise<{ dataset: DatasetRow; created: boolean }> {
  validateName('name', input.name);
  const inputKey = validateTensorKey('inputKey', input.inputKey ?? 'x');
  const labelKey = validateTensorKey('labelKey', input.labelKey ?? 'y');
  const { sha256, ref } = await uploadValidated(deps, filePath, (header, source) =>
    inspectDataset(source, header, inputKey, labelKey).then(() => undefined),
  );
  return registerDataset(deps, { ...input, uri: formatS3Uri(ref) }, { sha256 });
}

async function inspectDataset(
  source: ByteSource,
  header: SafetensorsHeader,
  inputKey: string,
  labelKey: string,
): Promise<Pick<DatasetRow, 'exampleCount' | 'inputShape' | 'inputDtype' | 'labelKind' | 'labelDtype' | 'numClasses'>> {
  const find = (key: string, option: string): TensorInfo => {
    const tensor = header.tensors.find((t) => t.name === key);
    if (tensor === undefined) {
      const names = header.tensors.map((t) => `"${t.name}"`).join(', ') || 'none';
      throw badUserInput(`${source.name}: expected a tensor "${key}" (${option}), found tensors ${names}`);
    }
    return tensor;
  };
  const x = find(inputKey, 'inputKey');
  const y = find(labelKey, 'labelKey');
  if (!FLOAT_DTYPES.includes(x.dtype) && x.dtype !== 'U8') {
    throw badUserInput(`${source.name}: expected inputs "${inputKey}" of dtype F32, F64, F16, BF16 or U8, got ${x.dtype}`);
  }
  if (x.shape.length < 2 || x.shape[0] === 0) {
    throw badUserInput(`${source.name}: expected inputs "${inputKey}" of shape [N, ...] with N ≥ 1, got [${x.shape.join(', ')}]`);
  }
  const n = x.shape[0]!;
  if (y.shape[0] !== n || (y.shape.length !== 1 && !(y.shape.length === 2 && FLOAT_DTYPES.includes(y.dtype)))) {
    throw badUserInput(
      `${source.name}: expected labels "${labelKey}" of shape [${n}] (or [${n}, K] float targets) to match ${n} inputs, ` +
        `got [${y.shape.join(', ')}]`,
    );
  }
  const base = { exampleCount: n, inputShape: x.shape.slice(1), inputDtype: x.dtype, labelDtype: y.dtype };
  if (FLOAT_DTYPES.includes(y.dtype)) return { ...base, labelKind: 'FLOAT_TARGET', numClasses: null };
  if (!INTEGER_DTYPES.includes(y.dtype)) {
    throw badUserInput(`${source.name}: expected labels "${labelKey}" of an integer or float dtype, got ${y.dtype}`);
  }
  if (y.end - y.begin > MAX_LABEL_BYTES) {
    throw badUserInput(`${source.name}: expected labels of at most ${MAX_LABEL_BYTES} bytes, got ${y.end - y.begin}`);
  }
  const labels = await readTensor(source, header, y);
  let max = -1;
  for (let i = 0; i < labels.length; i++) {
    const label = Number(labels[i]);
    if (label < 0) throw badUserInput(`${source.name}: expected class labels ≥ 0, got ${label} at index ${i}`);
    if (label > max) max = label;
  }
  return { ...base, labelKind: 'CLASS_INDEX', numClasses: max + 1 };
}

// -------------------------------------------------------------------------------------------- helpers

async function readObjectHeader(deps: RegistryDeps, ref: ObjectRef) {
  const version = await deps.store.head(ref);
  const source = objectSource(deps.store, ref, version, formatS3Uri(ref));
  const header = await readSafetensorsHeader(source, deps.maxHeaderBytes);
  return { version, header, source };
}

/**
 * Validates a local file as safetensors (plus `check`), then uploads it under a content-addressed key, so
 * re-importing a file never overwrites an object some registration has pinned.
 */
async function uploadValidated(
  deps: RegistryDeps,
  filePath: string,
  check: (header: SafetensorsHeader, source: ByteSource) => Promise<void>,
): Promise<{ sha256: string; ref: ObjectRef }> {
  let source: Awaited<ReturnType<typeof fileSource>>;
  try {
    source = await fileSource(filePath);
  } catch (error) {
    throw badUserInput(`cannot read ${filePath}: ${(error as Error).message}`, error);
  }
  try {
    await check(await readSafetensorsHeader(source, deps.maxHeaderBytes), source);
  } finally {
    await source.close();
  }
  const sha256 = await sha256File(filePath);
  const ref = { bucket: deps.store.bucket, key: `objects/sha256/${sha256}.safetensors` };
  const existing = await deps.store.head(ref).catch(() => undefined);
  if (existing === undefined || existing.size !== source.size) await deps.store.uploadFile(ref, filePath);
  return { sha256, ref };
}

function countElements(tensors: TensorInfo[]): { elements: number; parameters: number } {
  let elements = 0;
  let parameters = 0;
  for (const tensor of tensors) {
    const count = tensor.shape.reduce((a, b) => a * b, 1);
    elements += count;
    if (FLOAT_DTYPES.includes(tensor.dtype) && !BUFFER_SUFFIXES.some((s) => tensor.name.endsWith(s))) parameters += count;
  }
  return { elements, parameters };
}

/** The columns every registered object has: where it is, the pinned version, and its header. */
function storedObject(ref: ObjectRef, version: ObjectVersion, header: SafetensorsHeader, sha256: string | undefined) {
  const summary: HeaderSummary = {
    headerLength: header.headerLength,
    metadata: header.metadata,
    tensors: header.tensors.map(({ name, dtype, shape, begin, end }) => ({ name, dtype, shape, begin, end })),
  };
  return { uri: formatS3Uri(ref), ...ref, size: version.size, etag: version.etag, sha256: sha256 ?? null, header: summary };
}

function validateRun(input: CreateRunInput) {
  const tags = input.tags ?? [];
  if (tags.length > 64) throw badUserInput(`tags: expected at most 64 tags, got ${tags.length}`);
  for (const tag of tags) validateName('tags', tag, 64);
  if (input.seed != null && !Number.isSafeInteger(input.seed)) {
    throw badUserInput(`seed: expected an integer, got ${input.seed}`);
  }
  return {
    name: validateName('name', input.name),
    architecture: validateOptionalName('architecture', input.architecture) ?? null,
    datasetName: validateOptionalName('datasetName', input.datasetName) ?? null,
    hyperparameters: input.hyperparameters ?? {},
    seed: input.seed ?? null,
    tags: [...new Set(tags)],
    reportedMetrics: input.reportedMetrics ?? {},
  };
}

function validateStep(step: number): number {
  if (!Number.isSafeInteger(step) || step < 0) throw badUserInput(`step: expected an integer ≥ 0, got ${step}`);
  return step;
}

/** Names (runs, datasets, tags, architectures): printable, trimmed, bounded. */
function validateName(field: string, value: string, max = 200): string {
  // eslint-disable-next-line no-control-regex
  if (value.length === 0 || value.length > max || value.trim() !== value || /[\u0000-\u001f\u007f]/.test(value)) {
    throw badUserInput(
      `${field}: expected 1 to ${max} printable characters without leading or trailing spaces, got ${JSON.stringify(value.slice(0, max + 20))}`,
    );
  }
  return value;
}

function validateOptionalName(field: string, value: string | null | undefined): string | undefined {
  return value == null ? undefined : validateName(field, value);
}

function validateTensorKey(field: string, value: string): string {
  return validateName(field, value, 1000);
}

import { badUserInput, isLinpathError, notFound, UnreachableCaseError } from '../../errors.js';
import {
  CIFAR10_IMAGE_SHAPE,
  CIFAR10_RECORD_BYTES,
  checkIdxPair,
  cifar10RecordCount,
  DatasetFormatError,
  decodeCifar10Labels,
  idxHeaderLength,
  parseIdxHeader,
  type IdxKind,
} from '../../formats/dataset-formats.js';
import {
  formatS3Uri,
  parseS3Uri,
  type ObjectRef,
  type ObjectStore,
  type ObjectVersion,
} from '../../storage/object-store.js';
import type {
  HyperparameterCondition,
  RegistryRepository,
  RunCursor,
  RunFilter,
  RunOrder,
} from '../../storage/registry.repository.js';
import type {
  CheckpointRow,
  DatasetRow,
  HeaderSummary,
  InputLayout,
  Normalization,
  RunRow,
} from '../../storage/registry.tables.js';
import type { Dtype, SafetensorsHeader, TensorInfo } from '../../formats/safetensors.codec.js';
import {
  fileSource,
  objectSource,
  readSafetensorsHeader,
  readTensor,
  sha256File,
  type ByteSource,
} from '../../storage/safetensors.source.js';
import { isUuid } from '../../domain/ids.js';

export type CheckpointRole = CheckpointRow['role'];
export type DatasetSplit = DatasetRow['split'];
export type DatasetFormat = DatasetRow['format'];

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
  /** SAFETENSORS when absent. */
  format?: DatasetFormat | null | undefined;
  /** MNIST_IDX only: the IDX labels file. */
  labelsUri?: string | null | undefined;
  /** SAFETENSORS only: default "x". */
  inputKey?: string | null | undefined;
  /** SAFETENSORS only: default "y". */
  labelKey?: string | null | undefined;
  /** SAFETENSORS image inputs only: how the stored examples order their axes (see `resolveLayout`). */
  inputLayout?: InputLayout | null | undefined;
  /** Per channel, in stored value units: x = (v − mean_c) / std_c at load. */
  normalization?: Normalization | null | undefined;
}

export interface ImportDatasetInput extends Omit<RegisterDatasetInput, 'uri' | 'labelsUri'> {
  /** MNIST_IDX only: the local IDX labels file. */
  labelsFile?: string | null | undefined;
}

/** Labels are read in full at registration (to count classes); beyond this a dataset is refused. */
const MAX_LABEL_BYTES = 64 * 1024 * 1024;
const FLOAT_DTYPES: readonly Dtype[] = ['F64', 'F32', 'F16', 'BF16'];
const INTEGER_DTYPES: readonly Dtype[] = ['I64', 'I32', 'I16', 'I8', 'U64', 'U32', 'U16', 'U8'];
/** BatchNorm buffers: state, but not parameters. */
const BUFFER_SUFFIXES = ['.running_mean', '.running_var', '.num_batches_tracked'];

// ---------------------------------------------------------------------------------------------- runs

export async function createRun(deps: Pick<RegistryDeps, 'repository'>, input: CreateRunInput): Promise<RunRow> {
  return deps.repository.insertRun(validateRun(input));
}

export async function getRun(deps: Pick<RegistryDeps, 'repository'>, id: string): Promise<RunRow> {
  const run = isUuid(id) ? await deps.repository.findRunById(id) : undefined;
  if (run === undefined) throw notFound(`no run with id "${id}"`);
  return run;
}

export interface RunPage {
  runs: Array<{ run: RunRow; cursor: string }>;
  hasNextPage: boolean;
}

export const MAX_PAGE_SIZE = 500;

export interface RunOrderInput {
  field: RunOrder['field'];
  direction: RunOrder['direction'];
  /** Dot-separated JSON path, for REPORTED_METRIC and HYPERPARAMETER. */
  path?: string | null | undefined;
}

export interface HyperparameterConditionInput extends Omit<HyperparameterCondition, 'path'> {
  /** Dot-separated JSON path into the hyper-parameters, e.g. "optimizer.lr". */
  path: string;
}

export interface RunFilterInput extends Omit<RunFilter, 'hyperparameters'> {
  hyperparameters?: HyperparameterConditionInput[] | undefined;
}

export async function listRuns(
  deps: Pick<RegistryDeps, 'repository'>,
  args: {
    first: number;
    after?: string | null | undefined;
    filter?: RunFilterInput | null | undefined;
    orderBy?: RunOrderInput | null | undefined;
  },
): Promise<RunPage> {
  if (!Number.isInteger(args.first) || args.first < 0 || args.first > MAX_PAGE_SIZE) {
    throw badUserInput(`first: expected an integer from 0 to ${MAX_PAGE_SIZE}, got ${args.first}`);
  }
  const order = validateOrder(args.orderBy);
  const orderKey = `${order.field}:${order.direction}:${(order.path ?? []).join('.')}`;
  const after = args.after == null ? undefined : decodeCursor(args.after, orderKey);
  const rows = await deps.repository.listRuns(validateFilter(args.filter), order, args.first + 1, after);
  return {
    runs: rows
      .slice(0, args.first)
      .map(({ sortValue, ...run }) => ({ run, cursor: encodeCursor({ value: sortValue, seq: run.seq }, orderKey) })),
    hasNextPage: rows.length > args.first,
  };
}

export function validateFilter(filter: RunFilterInput | null | undefined): RunFilter {
  if (filter == null) return {};
  return {
    ...filter,
    hyperparameters: filter.hyperparameters?.map((condition) => {
      const operators = ['eq', 'ne', 'in', 'gt', 'gte', 'lt', 'lte', 'exists'] as const;
      if (!operators.some((op) => condition[op] !== undefined && condition[op] !== null)) {
        throw badUserInput(
          `hyperparameters: condition on "${condition.path}" needs one of ${operators.join(', ')}, got none`,
        );
      }
      const clean = Object.fromEntries(Object.entries(condition).filter(([, v]) => v !== null && v !== undefined));
      return { ...clean, path: jsonPath('hyperparameters', condition.path) } as HyperparameterCondition;
    }),
  };
}

function validateOrder(order: RunOrderInput | null | undefined): RunOrder {
  if (order == null) return { field: 'CREATED_AT', direction: 'ASC' };
  const needsPath = order.field === 'REPORTED_METRIC' || order.field === 'HYPERPARAMETER';
  if (needsPath !== (order.path != null)) {
    throw badUserInput(
      needsPath
        ? `orderBy: ${order.field} needs a path (e.g. "testAccuracy"), got none`
        : `orderBy: ${order.field} takes no path, got "${order.path}"`,
    );
  }
  return {
    field: order.field,
    direction: order.direction,
    path: order.path == null ? undefined : jsonPath('orderBy.path', order.path),
  };
}

/** "optimizer.lr" → ["optimizer", "lr"]; segments of letters, digits, _ and -. */
function jsonPath(field: string, path: string): string[] {
  const segments = path.split('.');
  if (path.length > 200 || segments.some((s) => !/^[A-Za-z0-9_-]+$/.test(s))) {
    throw badUserInput(
      `${field}: expected a dot-separated path of names (letters, digits, _ and -), got "${path.slice(0, 220)}"`,
    );
  }
  return segments;
}

const encodeCursor = (cursor: RunCursor, orderKey: string): string =>
  Buffer.from(JSON.stringify([cursor.value, cursor.seq, orderKey])).toString('base64url');

function decodeCursor(text: string, orderKey: string): RunCursor {
  const invalid = () =>
    badUserInput(
      `after: expected a cursor returned by runs { edges { cursor } } with the same orderBy, got "${text.slice(0, 100)}"`,
    );
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
  } catch {
    throw invalid();
  }
  if (!Array.isArray(parsed) || parsed.length !== 3) throw invalid();
  const [value, seq, key] = parsed as [unknown, unknown, unknown];
  // The sort value's type follows the order: a name is text, creation order and metrics are numbers.
  const field = orderKey.slice(0, orderKey.indexOf(':'));
  const valueFits =
    field === 'NAME'
      ? typeof value === 'string'
      : field === 'CREATED_AT'
        ? Number.isSafeInteger(value)
        : value === null || Number.isFinite(value);
  if (key !== orderKey || !Number.isSafeInteger(seq) || !valueFits) throw invalid();
  return { value: value as RunCursor['value'], seq: seq as number };
}

export async function checkpointsOfRun(
  deps: Pick<RegistryDeps, 'repository'>,
  runId: string,
): Promise<CheckpointRow[]> {
  return deps.repository.checkpointsOfRun(runId);
}

// ---------------------------------------------------------------------------------------- checkpoints

export async function getCheckpoint(deps: Pick<RegistryDeps, 'repository'>, id: string): Promise<CheckpointRow> {
  const checkpoint = isUuid(id) ? await deps.repository.findCheckpoint(id) : undefined;
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
  const existingRun = isUuid(runKey)
    ? await deps.repository.findRunById(runKey)
    : await deps.repository.findRunByName(runKey);
  if (existingRun === undefined && !options.createRun) {
    throw notFound(`no run with id or name "${runKey}"; create it first with createRun`);
  }

  const { version, header } = await readObjectHeader(deps, ref);
  if (header.tensors.length === 0)
    throw badUserInput(`${formatS3Uri(ref)}: expected a checkpoint with tensors, got none`);
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
  const dataset = isUuid(id) ? await deps.repository.findDataset(id) : undefined;
  if (dataset === undefined) throw notFound(`no dataset with id "${id}"`);
  return dataset;
}

export async function listDatasets(deps: Pick<RegistryDeps, 'repository'>): Promise<DatasetRow[]> {
  return deps.repository.listDatasets();
}

/**
 * Registers a dataset already in the bucket, pinning its object(s) like a checkpoint:
 * - SAFETENSORS: inputs under `inputKey` ([N, ...], float or U8) and labels under `labelKey` ([N] integer
 *   class indices, or float targets [N] / [N, K]); reads the header and the labels.
 * - CIFAR10_BINARY: 3073-byte records (label, then a [3, 32, 32] U8 image); reads the file in chunks to check
 *   every label is 0..9.
 * - MNIST_IDX: an IDX images file [N, H, W] U8 at `uri` and an IDX labels file [N] at `labelsUri`; reads both
 *   headers and the labels.
 */
export async function registerDataset(
  deps: RegistryDeps,
  input: RegisterDatasetInput,
  options: { sha256?: string; labelsSha256?: string } = {},
): Promise<{ dataset: DatasetRow; created: boolean }> {
  const name = validateName('name', input.name);
  const settings = validateDatasetSettings(input, input.labelsUri != null);
  const ref = parseS3Uri(input.uri, deps.store.readableBuckets);
  const labelsRef =
    settings.format === 'MNIST_IDX' ? parseLabelsUri(input.labelsUri!, deps.store.readableBuckets) : undefined;
  const version = await deps.store.head(ref);
  const labelsVersion = labelsRef !== undefined ? await deps.store.head(labelsRef) : undefined;
  const inspected = await inspectDataset(deps, settings, {
    data: objectSource(deps.store, ref, version, formatS3Uri(ref)),
    labels:
      labelsRef !== undefined ? objectSource(deps.store, labelsRef, labelsVersion!, formatS3Uri(labelsRef)) : undefined,
  });
  return deps.repository.insertDataset({
    name,
    split: input.split,
    format: settings.format,
    inputKey: settings.inputKey,
    labelKey: settings.labelKey,
    ...inspected.shape,
    ...storedObject(ref, version, inspected.header, options.sha256),
    ...(labelsRef !== undefined
      ? {
          labelsUri: formatS3Uri(labelsRef),
          labelsBucket: labelsRef.bucket,
          labelsKey: labelsRef.key,
          labelsSize: labelsVersion!.size,
          labelsEtag: labelsVersion!.etag,
          labelsSha256: options.labelsSha256 ?? null,
        }
      : {}),
  });
}

/**
 * Validates local dataset file(s) exactly as registration would (nothing malformed is uploaded), uploads them
 * under content-addressed keys and registers them with their sha256.
 */
export async function importDatasetFile(
  deps: RegistryDeps,
  filePath: string,
  input: ImportDatasetInput,
): Promise<{ dataset: DatasetRow; created: boolean }> {
  validateName('name', input.name);
  const settings = validateDatasetSettings(input, input.labelsFile != null, 'labelsFile');
  const data = await openLocal(filePath);
  let labels: Awaited<ReturnType<typeof openLocal>> | undefined;
  try {
    if (settings.format === 'MNIST_IDX') labels = await openLocal(input.labelsFile!);
    await inspectDataset(deps, settings, { data, labels });
  } finally {
    await data.close();
    await labels?.close();
  }
  const extension = DATASET_EXTENSIONS[settings.format];
  const uploaded = await uploadFile(deps, filePath, data.size, extension);
  const uploadedLabels = labels !== undefined ? await uploadFile(deps, labels.name, labels.size, extension) : undefined;
  const { labelsFile: _labelsFile, ...rest } = input;
  return registerDataset(
    deps,
    {
      ...rest,
      uri: formatS3Uri(uploaded.ref),
      labelsUri: uploadedLabels !== undefined ? formatS3Uri(uploadedLabels.ref) : null,
    },
    { sha256: uploaded.sha256, ...(uploadedLabels !== undefined ? { labelsSha256: uploadedLabels.sha256 } : {}) },
  );
}

const DATASET_EXTENSIONS: Record<DatasetFormat, string> = {
  SAFETENSORS: '.safetensors',
  CIFAR10_BINARY: '.bin',
  MNIST_IDX: '.idx',
};

/** Tensor names recorded for the formats that have none (their files are bytes in a fixed layout). */
const FIXED_KEYS: Record<Exclude<DatasetFormat, 'SAFETENSORS'>, { inputKey: string; labelKey: string }> = {
  CIFAR10_BINARY: { inputKey: 'images', labelKey: 'labels' },
  MNIST_IDX: { inputKey: 'images', labelKey: 'labels' },
};

const MAX_CHANNELS = 4096;

interface DatasetSettings {
  format: DatasetFormat;
  inputKey: string;
  labelKey: string;
  inputLayout: InputLayout | undefined;
  normalization: Normalization | undefined;
}

/** Checks the options against the format, before anything is read. */
function validateDatasetSettings(
  input: Omit<RegisterDatasetInput, 'uri' | 'labelsUri'>,
  hasLabels: boolean,
  labelsField = 'labelsUri',
): DatasetSettings {
  const format = input.format ?? 'SAFETENSORS';
  if (!Object.hasOwn(DATASET_EXTENSIONS, format)) {
    throw badUserInput(`format: expected SAFETENSORS, CIFAR10_BINARY or MNIST_IDX, got ${JSON.stringify(format)}`);
  }
  if (format === 'MNIST_IDX' && !hasLabels) {
    throw badUserInput(`${labelsField}: expected the IDX labels file of the MNIST_IDX images, got none`);
  }
  if (format !== 'MNIST_IDX' && hasLabels) {
    throw badUserInput(
      `${labelsField}: only MNIST_IDX datasets have a separate labels file; ${format} keeps labels with the inputs`,
    );
  }
  const inputLayout = input.inputLayout ?? undefined;
  if (inputLayout !== undefined && inputLayout !== 'NCHW' && inputLayout !== 'NHWC') {
    throw badUserInput(`inputLayout: expected NCHW or NHWC, got ${JSON.stringify(inputLayout)}`);
  }
  const normalization = input.normalization == null ? undefined : validateNormalization(input.normalization);
  if (format === 'SAFETENSORS') {
    return {
      format,
      inputKey: validateTensorKey('inputKey', input.inputKey ?? 'x'),
      labelKey: validateTensorKey('labelKey', input.labelKey ?? 'y'),
      inputLayout,
      normalization,
    };
  }
  for (const field of ['inputKey', 'labelKey', 'inputLayout'] as const) {
    if (input[field] != null) {
      throw badUserInput(
        `${field}: applies to SAFETENSORS datasets only; ${format} files have a fixed layout, got ${JSON.stringify(input[field])}`,
      );
    }
  }
  return { format, ...FIXED_KEYS[format], inputLayout: undefined, normalization };
}

function validateNormalization(normalization: Normalization): Normalization {
  const { mean, std } = normalization;
  if (
    !Array.isArray(mean) ||
    !Array.isArray(std) ||
    mean.length === 0 ||
    mean.length > MAX_CHANNELS ||
    mean.length !== std.length
  ) {
    throw badUserInput(
      `normalization: expected as many means as standard deviations, one per channel (1 to ${MAX_CHANNELS}), ` +
        `got ${Array.isArray(mean) ? mean.length : 'no'} means and ${Array.isArray(std) ? std.length : 'no'} standard deviations`,
    );
  }
  mean.forEach((m, c) => {
    if (typeof m !== 'number' || !Number.isFinite(m))
      throw badUserInput(`normalization.mean[${c}]: expected a finite number, got ${m}`);
  });
  std.forEach((s, c) => {
    if (typeof s !== 'number' || !Number.isFinite(s) || s <= 0) {
      throw badUserInput(`normalization.std[${c}]: expected a finite number > 0, got ${s}`);
    }
  });
  return { mean: [...mean], std: [...std] };
}

/** `parseS3Uri`, with its messages naming the labelsUri field. */
function parseLabelsUri(uri: string, readableBuckets: readonly string[]): ObjectRef {
  try {
    return parseS3Uri(uri, readableBuckets);
  } catch (error) {
    if (isLinpathError(error) && error.message.startsWith('uri:'))
      throw badUserInput(`labelsUri:${error.message.slice(4)}`);
    throw error;
  }
}

type DatasetShape = Pick<
  DatasetRow,
  | 'exampleCount'
  | 'inputShape'
  | 'inputDtype'
  | 'labelKind'
  | 'labelDtype'
  | 'numClasses'
  | 'inputLayout'
  | 'normalization'
>;

/**
 * Validates a dataset from its byte source(s) (local files before an upload, pinned S3 objects at
 * registration) and returns the columns that describe it, with `inputShape` channels-first as loaded.
 */
async function inspectDataset(
  deps: Pick<RegistryDeps, 'maxHeaderBytes'>,
  settings: DatasetSettings,
  sources: { data: ByteSource; labels: ByteSource | undefined },
): Promise<{ shape: DatasetShape; header: HeaderSummary }> {
  switch (settings.format) {
    case 'SAFETENSORS': {
      const header = await readSafetensorsHeader(sources.data, deps.maxHeaderBytes);
      return { shape: await inspectSafetensorsDataset(sources.data, header, settings), header };
    }
    case 'CIFAR10_BINARY':
      return inspectCifar10(sources.data, settings);
    case 'MNIST_IDX':
      return inspectMnist(sources.data, sources.labels!, settings);
    default:
      throw new UnreachableCaseError(settings.format);
  }
}

async function inspectSafetensorsDataset(
  source: ByteSource,
  header: SafetensorsHeader,
  settings: DatasetSettings,
): Promise<DatasetShape> {
  const { inputKey, labelKey } = settings;
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
    throw badUserInput(
      `${source.name}: expected inputs "${inputKey}" of dtype F32, F64, F16, BF16 or U8, got ${x.dtype}`,
    );
  }
  if (x.shape.length < 2 || x.shape[0] === 0) {
    throw badUserInput(
      `${source.name}: expected inputs "${inputKey}" of shape [N, ...] with N ≥ 1, got [${x.shape.join(', ')}]`,
    );
  }
  const n = x.shape[0]!;
  if (y.shape[0] !== n || (y.shape.length !== 1 && !(y.shape.length === 2 && FLOAT_DTYPES.includes(y.dtype)))) {
    throw badUserInput(
      `${source.name}: expected labels "${labelKey}" of shape [${n}] (or [${n}, K] float targets) to match ${n} inputs, ` +
        `got [${y.shape.join(', ')}]`,
    );
  }
  const { inputShape, inputLayout } = resolveLayout(source, x, settings.inputLayout);
  const base = {
    exampleCount: n,
    inputShape,
    inputLayout,
    normalization: resolveNormalization(source, inputShape, settings.normalization),
    inputDtype: x.dtype,
    labelDtype: y.dtype,
  };
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

/**
 * The axis order of image examples (3 dimensions each) and their channels-first shape. Float inputs are
 * taken as the model's NCHW unless NHWC is declared. U8 images are often saved channels-last, so their
 * layout is inferred when only one end of the example shape can be a channel axis (1 or 3 values): [32, 32, 3]
 * is NHWC, [3, 32, 32] is NCHW; an ambiguous shape ([3, 32, 3], [28, 28, 28]) must be declared.
 */
function resolveLayout(
  source: ByteSource,
  x: TensorInfo,
  declared: InputLayout | undefined,
): { inputShape: number[]; inputLayout: InputLayout | null } {
  const example = x.shape.slice(1);
  if (example.length !== 3) {
    if (declared !== undefined) {
      throw badUserInput(
        `inputLayout: applies to image inputs of 3 dimensions per example ([C, H, W] or [H, W, C]); ` +
          `${source.name} has examples of shape [${example.join(', ')}]`,
      );
    }
    return { inputShape: example, inputLayout: null };
  }
  const [first, , last] = example as [number, number, number];
  let layout = declared;
  if (layout === undefined) {
    const channelsFirst = first === 1 || first === 3;
    const channelsLast = last === 1 || last === 3;
    if (x.dtype !== 'U8') layout = 'NCHW';
    else if (channelsLast && !channelsFirst) layout = 'NHWC';
    else if (channelsFirst && !channelsLast) layout = 'NCHW';
    else {
      throw badUserInput(
        `inputLayout: expected NCHW or NHWC for U8 images of shape [${example.join(', ')}] in ${source.name}, ` +
          'whose channel axis cannot be told from the shape; got none',
      );
    }
  }
  const [a, b, c] = example as [number, number, number];
  return { inputShape: layout === 'NHWC' ? [c, a, b] : [a, b, c], inputLayout: layout };
}

function resolveNormalization(
  source: ByteSource,
  inputShape: number[],
  normalization: Normalization | undefined,
): Normalization | null {
  if (normalization === undefined) return null;
  if (inputShape.length !== 3) {
    throw badUserInput(
      `normalization: applies per channel to image examples [C, H, W]; ${source.name} has examples of shape [${inputShape.join(', ')}]`,
    );
  }
  const channels = inputShape[0]!;
  if (normalization.mean.length !== channels) {
    throw badUserInput(
      `normalization: expected ${channels} means and ${channels} standard deviations (one per channel of [${inputShape.join(', ')}]), ` +
        `got ${normalization.mean.length}`,
    );
  }
  return normalization;
}

/** Records per range request when reading CIFAR-10 labels (about 6 MB). */
const CIFAR10_CHUNK_RECORDS = 2048;

async function inspectCifar10(
  source: ByteSource,
  settings: DatasetSettings,
): Promise<{ shape: DatasetShape; header: HeaderSummary }> {
  const what = 'CIFAR-10 binary file';
  const count = asDatasetInput(source, what, () => cifar10RecordCount(source.size));
  let max = -1;
  for (let first = 0; first < count; first += CIFAR10_CHUNK_RECORDS) {
    const end = Math.min(count, first + CIFAR10_CHUNK_RECORDS);
    const bytes = await source.read(first * CIFAR10_RECORD_BYTES, end * CIFAR10_RECORD_BYTES);
    const labels = asDatasetInput(source, what, () => decodeCifar10Labels(bytes, first));
    for (const label of labels) if (label > max) max = label;
  }
  const inputShape = [...CIFAR10_IMAGE_SHAPE];
  return {
    shape: {
      exampleCount: count,
      inputShape,
      inputLayout: 'NCHW',
      normalization: resolveNormalization(source, inputShape, settings.normalization),
      inputDtype: 'U8',
      labelKind: 'CLASS_INDEX',
      labelDtype: 'U8',
      numClasses: max + 1,
    },
    // The records seen as one tensor: what the loader reads by range.
    header: {
      headerLength: 0,
      metadata: {},
      tensors: [
        {
          name: 'records',
          dtype: 'U8',
          shape: [count, CIFAR10_RECORD_BYTES],
          begin: 0,
          end: count * CIFAR10_RECORD_BYTES,
        },
      ],
    },
  };
}

async function inspectMnist(
  images: ByteSource,
  labels: ByteSource,
  settings: DatasetSettings,
): Promise<{ shape: DatasetShape; header: HeaderSummary }> {
  const readIdxHeader = async (source: ByteSource, kind: IdxKind) => {
    const prefix = await source.read(0, Math.min(source.size, idxHeaderLength(kind)));
    return asDatasetInput(source, `IDX ${kind} file`, () => parseIdxHeader(prefix, source.size, kind));
  };
  const imagesHeader = await readIdxHeader(images, 'images');
  const labelsHeader = await readIdxHeader(labels, 'labels');
  const [n, height, width] = imagesHeader.dims as [number, number, number];
  try {
    checkIdxPair(imagesHeader, labelsHeader);
  } catch (error) {
    if (!(error instanceof DatasetFormatError)) throw error;
    throw badUserInput(`${labels.name} does not match the images of ${images.name}: ${error.message}`, error);
  }
  if (n > MAX_LABEL_BYTES) throw badUserInput(`${labels.name}: expected at most ${MAX_LABEL_BYTES} labels, got ${n}`);
  const values = await labels.read(labelsHeader.headerLength, labelsHeader.headerLength + n);
  let max = -1;
  for (const label of values) if (label > max) max = label;
  const inputShape = [1, height, width];
  return {
    shape: {
      exampleCount: n,
      inputShape,
      inputLayout: null,
      normalization: resolveNormalization(images, inputShape, settings.normalization),
      inputDtype: 'U8',
      labelKind: 'CLASS_INDEX',
      labelDtype: 'U8',
      numClasses: max + 1,
    },
    header: {
      headerLength: imagesHeader.headerLength,
      metadata: {},
      tensors: [{ name: 'images', dtype: 'U8', shape: [n, height, width], begin: 0, end: n * height * width }],
    },
  };
}

/** Runs a parser of dataset-formats.ts; its errors become BAD_USER_INPUT naming the file. */
function asDatasetInput<T>(source: ByteSource, what: string, parse: () => T): T {
  try {
    return parse();
  } catch (error) {
    if (error instanceof DatasetFormatError)
      throw badUserInput(`${source.name} is not a valid ${what}: ${error.message}`, error);
    throw error;
  }
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
  const source = await openLocal(filePath);
  try {
    await check(await readSafetensorsHeader(source, deps.maxHeaderBytes), source);
  } finally {
    await source.close();
  }
  return uploadFile(deps, filePath, source.size, '.safetensors');
}

async function openLocal(filePath: string): Promise<Awaited<ReturnType<typeof fileSource>>> {
  try {
    return await fileSource(filePath);
  } catch (error) {
    throw badUserInput(`cannot read ${filePath}: ${(error as Error).message}`, error);
  }
}

/** Uploads a validated local file to `objects/sha256/<sha256><extension>` unless that object is there. */
async function uploadFile(
  deps: RegistryDeps,
  filePath: string,
  size: number,
  extension: string,
): Promise<{ sha256: string; ref: ObjectRef }> {
  const sha256 = await sha256File(filePath);
  const ref = { bucket: deps.store.bucket, key: `objects/sha256/${sha256}${extension}` };
  const existing = await deps.store.head(ref).catch(() => undefined);
  if (existing === undefined || existing.size !== size) await deps.store.uploadFile(ref, filePath);
  return { sha256, ref };
}

function countElements(tensors: TensorInfo[]): { elements: number; parameters: number } {
  let elements = 0;
  let parameters = 0;
  for (const tensor of tensors) {
    const count = tensor.shape.reduce((a, b) => a * b, 1);
    elements += count;
    if (FLOAT_DTYPES.includes(tensor.dtype) && !BUFFER_SUFFIXES.some((s) => tensor.name.endsWith(s)))
      parameters += count;
  }
  return { elements, parameters };
}

/** The columns every registered object has: where it is, the pinned version, and its header. */
function storedObject(ref: ObjectRef, version: ObjectVersion, header: HeaderSummary, sha256: string | undefined) {
  const summary: HeaderSummary = {
    headerLength: header.headerLength,
    metadata: header.metadata,
    tensors: header.tensors.map(({ name, dtype, shape, begin, end }) => ({ name, dtype, shape, begin, end })),
  };
  return {
    uri: formatS3Uri(ref),
    ...ref,
    size: version.size,
    etag: version.etag,
    sha256: sha256 ?? null,
    header: summary,
  };
}

export function validateRun(input: CreateRunInput) {
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

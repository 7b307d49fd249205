import { isUuid } from '../../domain/ids.js';
import { badUserInput, isLinpathError, notFound } from '../../errors.js';
import { formatS3Uri, parseS3Uri, type ObjectRef } from '../../storage/object-store.js';
import type { DatasetRow, InputLayout, Normalization } from '../../storage/registry.tables.js';
import { objectSource } from '../../storage/safetensors.source.js';
import { inspectDataset, type DatasetSettings } from './dataset-inspection.js';
import type { RegistryDeps } from './registry.deps.js';
import { validateName, validateTensorKey } from './registry.validation.js';
import { openLocal, storedObject, uploadFile } from './stored-objects.js';

export type DatasetSplit = DatasetRow['split'];
export type DatasetFormat = DatasetRow['format'];

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

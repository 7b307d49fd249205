import { badUserInput, UnreachableCaseError } from '../../errors.js';
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
import type { Dtype, SafetensorsHeader, TensorInfo } from '../../formats/safetensors.format.js';
import type { DatasetRow, HeaderSummary, InputLayout, Normalization } from '../../storage/registry.tables.js';
import { readSafetensorsHeader, readTensor, type ByteSource } from '../../storage/safetensors.source.js';
import type { DatasetFormat } from './datasets.usecases.js';
import type { RegistryDeps } from './registry.deps.js';
import { FLOAT_DTYPES } from './stored-objects.js';

/** Labels are read in full at registration (to count classes); beyond this a dataset is refused. */
const MAX_LABEL_BYTES = 64 * 1024 * 1024;
const INTEGER_DTYPES: readonly Dtype[] = ['I64', 'I32', 'I16', 'I8', 'U64', 'U32', 'U16', 'U8'];

/** A dataset's registration options, checked against its format. */
export interface DatasetSettings {
  format: DatasetFormat;
  inputKey: string;
  labelKey: string;
  inputLayout: InputLayout | undefined;
  normalization: Normalization | undefined;
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
export async function inspectDataset(
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

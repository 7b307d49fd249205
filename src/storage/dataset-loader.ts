import { badUserInput, UnreachableCaseError } from '../errors.js';
import {
  CIFAR10_RECORD_BYTES,
  DatasetFormatError,
  decodeCifar10Records,
  idxHeaderLength,
} from '../formats/dataset-formats.js';
import { type ObjectRef, type ObjectStore, type ObjectVersion } from './object-store.js';
import type { DatasetRow, InputLayout, Normalization } from './registry.tables.js';
import type { SafetensorsHeader, TensorInfo } from '../formats/safetensors.format.js';
import { objectSource, readTensor } from './safetensors.source.js';

/** Examples as a model reads them: `x` is [n, ...exampleShape] float32, channels-first for images. */
export interface LoadedExamples {
  x: Float32Array;
  labels: Int32Array;
  n: number;
  /** Shape of one example, e.g. [3, 32, 32] or [2]. */
  exampleShape: number[];
  /** For messages: the dataset's name and split. */
  dataset?: string;
}

export interface LoadOptions {
  /** How many examples, 1 to exampleCount − offset; all of them (from `offset`) when absent. */
  limit?: number | undefined;
  /** Index of the first example; 0 when absent. Together with `limit`, evaluation can go batch by batch. */
  offset?: number | undefined;
}

/**
 * Reads examples [offset, offset + limit) of a registered dataset from its pinned object(s), by range (only
 * those examples' bytes, so memory is bounded by `limit`), and converts them to float32 in the model's
 * layout: NHWC images are transposed to NCHW, and a declared normalisation is applied per channel as
 * x = fround((v − mean_c) / std_c). Labels become Int32Array; datasets of float targets are refused.
 */
export async function loadExamples(
  store: ObjectStore,
  dataset: DatasetRow,
  options: LoadOptions = {},
): Promise<LoadedExamples> {
  const label = `${dataset.name} (${dataset.split})`;
  if (dataset.labelKind !== 'CLASS_INDEX') {
    throw badUserInput(
      `dataset ${label} has float targets (${dataset.labelDtype}); only datasets of class labels (CLASS_INDEX) can be evaluated for now`,
    );
  }
  const total = dataset.exampleCount;
  const offset = options.offset ?? 0;
  if (!Number.isSafeInteger(offset) || offset < 0 || offset >= total) {
    throw badUserInput(
      `offset: expected an integer from 0 to ${total - 1} (dataset ${label} has ${total} examples), got ${offset}`,
    );
  }
  const limit = options.limit ?? total - offset;
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > total - offset) {
    throw badUserInput(
      `limit: expected an integer from 1 to ${total - offset} (dataset ${label} has ${total} examples` +
        `${offset > 0 ? `, from offset ${offset}` : ''}), got ${limit}`,
    );
  }
  const { values, storedShape, labels } = await readExamples(store, dataset, offset, limit);
  return {
    x: toChannelsFirst(values, limit, storedShape, dataset.inputLayout, dataset.normalization),
    labels,
    n: limit,
    exampleShape: [...dataset.inputShape],
    dataset: label,
  };
}

/**
 * The examples shaped for a model whose per-example input is `inputShape`: as they are when the shapes
 * agree; flattened (the same buffer, row-major) when the model takes vectors of as many values, e.g. MNIST
 * [1, 28, 28] into an MLP of input [784]. Anything else is BAD_USER_INPUT.
 */
export function fitToModel<T extends LoadedExamples>(examples: T, inputShape: readonly number[]): T {
  const { exampleShape } = examples;
  if (sameShape(exampleShape, inputShape)) return examples;
  const perExample = exampleShape.reduce((a, b) => a * b, 1);
  if (inputShape.length === 1 && inputShape[0] === perExample) return { ...examples, exampleShape: [...inputShape] };
  throw badUserInput(
    `model expects inputs [${inputShape.join(', ')}], ${examples.dataset !== undefined ? `dataset ${examples.dataset}` : 'the dataset'} ` +
      `gives [${exampleShape.join(', ')}]`,
  );
}

/**
 * Stored examples ([n, ...storedShape], row-major) to float32 channels-first. With `layout` NHWC the stored
 * example is [H, W, C] and becomes [C, H, W]. With `normalization` (channel = axis 0 of the channels-first
 * example), x = (v − mean_c) / std_c computed in float64 and rounded once to float32 (Math.fround).
 */
function toChannelsFirst(
  values: Float32Array | Uint8Array,
  n: number,
  storedShape: readonly number[],
  layout: InputLayout | null,
  normalization: Normalization | null,
): Float32Array {
  const size = storedShape.reduce((a, b) => a * b, 1);
  if (values.length !== n * size) {
    throw new RangeError(`toChannelsFirst: expected ${n} × ${size} values, got ${values.length}`);
  }
  if (layout !== 'NHWC' && normalization === null) {
    return values instanceof Float32Array ? values : Float32Array.from(values);
  }
  const out = new Float32Array(values.length);
  if (layout === 'NHWC') {
    const [height, width, channels] = storedShape as [number, number, number];
    const plane = height * width;
    const { mean, std } = perChannel(normalization, channels);
    for (let i = 0; i < n; i++) {
      const base = i * size;
      for (let p = 0; p < plane; p++) {
        for (let c = 0; c < channels; c++) {
          // Assigning to a Float32Array rounds to nearest float32, as Math.fround does.
          out[base + c * plane + p] = ((values[base + p * channels + c] as number) - mean[c]!) / std[c]!;
        }
      }
    }
    return out;
  }
  // Channels-first already: only the normalisation, channel by channel.
  const channels = storedShape.length === 3 ? storedShape[0]! : 1;
  const plane = size / channels;
  const { mean, std } = perChannel(normalization, channels);
  for (let i = 0; i < n; i++) {
    for (let c = 0; c < channels; c++) {
      const start = i * size + c * plane;
      const m = mean[c]!;
      const s = std[c]!;
      for (let j = start; j < start + plane; j++) out[j] = ((values[j] as number) - m) / s;
    }
  }
  return out;
}

function perChannel(normalization: Normalization | null, channels: number): Normalization {
  if (normalization === null)
    return { mean: new Array<number>(channels).fill(0), std: new Array<number>(channels).fill(1) };
  if (normalization.mean.length !== channels || normalization.std.length !== channels) {
    throw new RangeError(`normalization of ${normalization.mean.length} channels for examples of ${channels}`);
  }
  return normalization;
}

const sameShape = (a: readonly number[], b: readonly number[]): boolean =>
  a.length === b.length && a.every((d, i) => d === b[i]);

interface StoredExamples {
  /** [count, ...storedShape] as stored: Float32Array for float dtypes, Uint8Array for U8. */
  values: Float32Array | Uint8Array;
  storedShape: number[];
  labels: Int32Array;
}

async function readExamples(
  store: ObjectStore,
  dataset: DatasetRow,
  offset: number,
  count: number,
): Promise<StoredExamples> {
  const ref: ObjectRef = { bucket: dataset.bucket, key: dataset.key };
  const version: ObjectVersion = { size: dataset.size, etag: dataset.etag };
  switch (dataset.format) {
    case 'SAFETENSORS':
      return readSafetensorsExamples(store, dataset, ref, version, offset, count);
    case 'CIFAR10_BINARY': {
      const bytes = await store.readRange(
        ref,
        offset * CIFAR10_RECORD_BYTES,
        (offset + count) * CIFAR10_RECORD_BYTES,
        version,
      );
      const records = asUserInput(dataset, () => decodeCifar10Records(bytes, offset));
      return { values: records.images, storedShape: [...dataset.inputShape], labels: Int32Array.from(records.labels) };
    }
    case 'MNIST_IDX': {
      if (
        dataset.labelsBucket === null ||
        dataset.labelsKey === null ||
        dataset.labelsSize === null ||
        dataset.labelsEtag === null
      ) {
        throw new Error(`dataset ${dataset.id} is MNIST_IDX but has no labels object`);
      }
      const perExample = dataset.inputShape.reduce((a, b) => a * b, 1);
      const imagesStart = dataset.header.headerLength;
      const labelsStart = idxHeaderLength('labels');
      const [images, labels] = await Promise.all([
        store.readRange(ref, imagesStart + offset * perExample, imagesStart + (offset + count) * perExample, version),
        store.readRange(
          { bucket: dataset.labelsBucket, key: dataset.labelsKey },
          labelsStart + offset,
          labelsStart + offset + count,
          { size: dataset.labelsSize, etag: dataset.labelsEtag },
        ),
      ]);
      return { values: images, storedShape: [...dataset.inputShape], labels: Int32Array.from(labels) };
    }
    default:
      throw new UnreachableCaseError(dataset.format);
  }
}

async function readSafetensorsExamples(
  store: ObjectStore,
  dataset: DatasetRow,
  ref: ObjectRef,
  version: ObjectVersion,
  offset: number,
  count: number,
): Promise<StoredExamples> {
  const { headerLength, metadata } = dataset.header;
  const header: SafetensorsHeader = {
    headerLength,
    dataStart: 8 + headerLength,
    dataLength: dataset.size - 8 - headerLength,
    metadata,
    tensors: dataset.header.tensors as TensorInfo[],
  };
  const find = (key: string): TensorInfo => {
    const tensor = header.tensors.find((t) => t.name === key);
    if (tensor === undefined) throw new Error(`dataset ${dataset.id}: registered header has no tensor "${key}"`);
    return tensor;
  };
  // The rows [offset, offset + count) of a tensor [N, ...]: a contiguous byte range.
  const rows = (tensor: TensorInfo): TensorInfo => {
    const rowBytes = (tensor.end - tensor.begin) / tensor.shape[0]!;
    return {
      ...tensor,
      shape: [count, ...tensor.shape.slice(1)],
      begin: tensor.begin + offset * rowBytes,
      end: tensor.begin + (offset + count) * rowBytes,
    };
  };
  const source = objectSource(store, ref, version, dataset.uri);
  const x = find(dataset.inputKey);
  const [values, labelValues] = await Promise.all([
    readTensor(source, header, rows(x)),
    readTensor(source, header, rows(find(dataset.labelKey))),
  ]);
  if (!(values instanceof Float32Array || values instanceof Uint8Array)) {
    throw new Error(`dataset ${dataset.id}: inputs of dtype ${x.dtype} decoded to ${values.constructor.name}`);
  }
  const labels = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    const label = Number(labelValues[i]);
    if (!(label >= 0 && label <= 0x7fffffff)) {
      throw badUserInput(
        `${dataset.uri}: expected class labels from 0 to 2^31 − 1, got ${label} at index ${offset + i}`,
      );
    }
    labels[i] = label;
  }
  return { values, storedShape: x.shape.slice(1), labels };
}

function asUserInput<T>(dataset: DatasetRow, parse: () => T): T {
  try {
    return parse();
  } catch (error) {
    if (error instanceof DatasetFormatError)
      throw badUserInput(`${dataset.uri} is not a valid dataset: ${error.message}`, error);
    throw error;
  }
}

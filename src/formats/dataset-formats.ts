/**
 * Pure parsers for the two classic binary image-dataset formats linpath reads besides safetensors. No I/O:
 * callers read byte ranges (S3 range requests, or a local file) and hand them in, so registration can check
 * a file by reading its header and labels, and loading can read only the examples it needs.
 *
 * CIFAR-10 binary (https://www.cs.toronto.edu/~kriz/cifar.html, "Binary version"): a file is a sequence of
 * 3073-byte records, each 1 label byte (0..9) followed by the 32×32 red, green and blue planes of the image
 * (3072 bytes, row-major): the image is already channels-first, [3, 32, 32] U8. There is no header; the
 * record count is the file size / 3073. `cat data_batch_*.bin > train.bin` gives a valid 50 000-record file.
 *
 * IDX (http://yann.lecun.com/exdb/mnist/, "File formats"): a 4-byte big-endian magic (two zero bytes, the
 * element type, the number of dimensions), one big-endian uint32 per dimension, then the data, row-major.
 * MNIST images are unsigned bytes of 3 dimensions [N, H, W] (magic 0x00000803), labels unsigned bytes of 1
 * dimension [N] (magic 0x00000801).
 *
 * Every malformed input ends in a `DatasetFormatError` that says what was expected and what was found.
 */

/** A malformed dataset file; callers add the file's name and turn it into BAD_USER_INPUT. */
export class DatasetFormatError extends Error {
  readonly code = 'BAD_DATASET';
  constructor(message: string) {
    super(message);
    this.name = 'DatasetFormatError';
  }
}

const bad = (message: string): DatasetFormatError => new DatasetFormatError(message);

// ------------------------------------------------------------------------------------------- CIFAR-10

const CIFAR10_CLASSES = 10;
export const CIFAR10_IMAGE_SHAPE: readonly number[] = [3, 32, 32];
export const CIFAR10_IMAGE_BYTES = 3 * 32 * 32;
/** One label byte, then the image. */
export const CIFAR10_RECORD_BYTES = 1 + CIFAR10_IMAGE_BYTES;

/** The number of records in a CIFAR-10 binary file of `size` bytes (at least one, whole records only). */
export function cifar10RecordCount(size: number): number {
  if (!Number.isSafeInteger(size) || size < CIFAR10_RECORD_BYTES) {
    throw bad(
      `expected at least one ${CIFAR10_RECORD_BYTES}-byte record (1 label byte + 3×32×32 image bytes), got ${size} bytes`,
    );
  }
  if (size % CIFAR10_RECORD_BYTES !== 0) {
    const whole = Math.floor(size / CIFAR10_RECORD_BYTES);
    throw bad(
      `expected a size that is a multiple of ${CIFAR10_RECORD_BYTES} bytes (1 label byte + 3×32×32 image bytes per record), ` +
        `got ${size} bytes (${whole} records and ${size - whole * CIFAR10_RECORD_BYTES} bytes more)`,
    );
  }
  return size / CIFAR10_RECORD_BYTES;
}

/**
 * Splits whole CIFAR-10 records into labels and images ([count, 3, 32, 32] U8, channels-first as stored),
 * checking every label is 0..9. `firstIndex` is the index of the first record in the file (for messages).
 */
export function decodeCifar10Records(
  bytes: Uint8Array,
  firstIndex = 0,
): { labels: Uint8Array; images: Uint8Array; count: number } {
  const count = wholeRecords(bytes, firstIndex);
  const labels = new Uint8Array(count);
  const images = new Uint8Array(count * CIFAR10_IMAGE_BYTES);
  for (let i = 0; i < count; i++) {
    const offset = i * CIFAR10_RECORD_BYTES;
    labels[i] = checkCifar10Label(bytes[offset]!, firstIndex + i);
    images.set(bytes.subarray(offset + 1, offset + CIFAR10_RECORD_BYTES), i * CIFAR10_IMAGE_BYTES);
  }
  return { labels, images, count };
}

/** Only the labels of whole CIFAR-10 records (registration reads the file in chunks to count classes). */
export function decodeCifar10Labels(bytes: Uint8Array, firstIndex = 0): Uint8Array {
  const count = wholeRecords(bytes, firstIndex);
  const labels = new Uint8Array(count);
  for (let i = 0; i < count; i++) labels[i] = checkCifar10Label(bytes[i * CIFAR10_RECORD_BYTES]!, firstIndex + i);
  return labels;
}

function wholeRecords(bytes: Uint8Array, firstIndex: number): number {
  if (bytes.length % CIFAR10_RECORD_BYTES !== 0) {
    throw bad(
      `expected whole ${CIFAR10_RECORD_BYTES}-byte records from record ${firstIndex}, got ${bytes.length} bytes`,
    );
  }
  return bytes.length / CIFAR10_RECORD_BYTES;
}

function checkCifar10Label(label: number, index: number): number {
  if (label >= CIFAR10_CLASSES) {
    throw bad(
      `expected labels 0..${CIFAR10_CLASSES - 1}, got ${label} in record ${index} (byte offset ${index * CIFAR10_RECORD_BYTES}); ` +
        'is this a CIFAR-100 file (2 label bytes per record)?',
    );
  }
  return label;
}

// ------------------------------------------------------------------------------------------------ IDX

export type IdxKind = 'images' | 'labels';

const IDX_IMAGES_MAGIC = 0x00000803;
const IDX_LABELS_MAGIC = 0x00000801;
const IDX_TYPES: Record<number, string> = {
  0x08: 'unsigned byte',
  0x09: 'signed byte',
  0x0b: 'int16',
  0x0c: 'int32',
  0x0d: 'float32',
  0x0e: 'float64',
};
const IDX_RANK: Record<IdxKind, number> = { images: 3, labels: 1 };

export interface IdxHeader {
  kind: IdxKind;
  /** [N, H, W] for images, [N] for labels. */
  dims: number[];
  /** Bytes before the data: 4 + 4 × rank (16 for images, 8 for labels). */
  headerLength: number;
}

/** The bytes of the IDX header of `kind`; read at least this many from the start of the file. */
export const idxHeaderLength = (kind: IdxKind): number => 4 + 4 * IDX_RANK[kind];

const hex = (value: number): string => `0x${value.toString(16).padStart(8, '0')}`;

/**
 * Parses and validates the header of an IDX file of unsigned bytes: `prefix` holds the file's first bytes
 * (at least `idxHeaderLength(kind)` of them when the file has that many), `size` is the whole file's size,
 * which must be exactly header + the product of the dimensions.
 */
export function parseIdxHeader(prefix: Uint8Array, size: number, kind: IdxKind): IdxHeader {
  const expectedMagic = kind === 'images' ? IDX_IMAGES_MAGIC : IDX_LABELS_MAGIC;
  const expected =
    kind === 'images'
      ? `an IDX images file (magic ${hex(IDX_IMAGES_MAGIC)}: unsigned bytes, 3 dimensions N, H, W)`
      : `an IDX labels file (magic ${hex(IDX_LABELS_MAGIC)}: unsigned bytes, 1 dimension N)`;
  const headerLength = idxHeaderLength(kind);
  if (prefix[0] === 0x1f && prefix[1] === 0x8b) {
    throw bad(`expected ${expected}, got a gzip-compressed file; decompress it first (gunzip)`);
  }
  const tooShort = () => bad(`expected ${expected} with a ${headerLength}-byte header, got a file of ${size} bytes`);
  if (size < 4 || prefix.length < 4) throw tooShort();
  const view = new DataView(prefix.buffer, prefix.byteOffset, prefix.byteLength);
  const magic = view.getUint32(0, false);
  if (magic !== expectedMagic) {
    const [zero0, zero1, type, rank] = [prefix[0]!, prefix[1]!, prefix[2]!, prefix[3]!];
    const found =
      zero0 !== 0 || zero1 !== 0
        ? `magic ${hex(magic)} (not an IDX file: IDX files start with two zero bytes)`
        : `magic ${hex(magic)} (${IDX_TYPES[type] ?? `unknown type 0x${type.toString(16).padStart(2, '0')}`}, ${rank} dimension${rank === 1 ? '' : 's'})`;
    throw bad(`expected ${expected}, got ${found}`);
  }
  // The magic says the file is what was asked for: a header cut short is a truncated file.
  if (size < headerLength || prefix.length < headerLength) throw tooShort();
  const dims: number[] = [];
  for (let i = 0; i < IDX_RANK[kind]; i++) dims.push(view.getUint32(4 + 4 * i, false));
  if (dims.some((d) => d === 0)) {
    throw bad(
      `expected ${kind === 'images' ? 'dimensions N, H, W' : 'dimension N'} of at least 1, got [${dims.join(', ')}]`,
    );
  }
  // Dimensions are < 2^32 each, so the product may pass 2^53: an inexact size never equals `size`.
  const dataBytes = dims.reduce((a, b) => a * b, 1);
  const expectedSize = headerLength + dataBytes;
  if (!Number.isSafeInteger(expectedSize) || expectedSize !== size) {
    throw bad(
      `expected ${headerLength} + ${dims.join(' × ')} = ${Number.isSafeInteger(expectedSize) ? expectedSize : 'more than 2^53'} bytes ` +
        `for dimensions [${dims.join(', ')}], got ${size} bytes`,
    );
  }
  return { kind, dims, headerLength };
}

/** Checks that an IDX images file and its labels file describe the same number of examples. */
export function checkIdxPair(images: IdxHeader, labels: IdxHeader): void {
  const [imageCount] = images.dims;
  const [labelCount] = labels.dims;
  if (imageCount !== labelCount) {
    throw bad(`expected as many labels as images (${imageCount}), got ${labelCount} labels`);
  }
}

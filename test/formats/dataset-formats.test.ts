import { describe, expect, it } from 'vitest';
import {
  CIFAR10_IMAGE_BYTES,
  CIFAR10_RECORD_BYTES,
  DatasetFormatError,
  checkIdxPair,
  cifar10RecordCount,
  decodeCifar10Labels,
  decodeCifar10Records,
  idxHeaderLength,
  parseIdxHeader,
} from '../../src/formats/dataset-formats.js';
import { idxFile } from '../helpers/idx.js';

/** CIFAR-10 records: label, then the image with every byte (record·7 + position) mod 256. */
function cifarRecords(labels: number[]): Uint8Array {
  const bytes = new Uint8Array(labels.length * CIFAR10_RECORD_BYTES);
  labels.forEach((label, r) => {
    bytes[r * CIFAR10_RECORD_BYTES] = label;
    for (let p = 0; p < CIFAR10_IMAGE_BYTES; p++) bytes[r * CIFAR10_RECORD_BYTES + 1 + p] = (r * 7 + p) % 256;
  });
  return bytes;
}

const header = (file: Uint8Array, kind: 'images' | 'labels', size = file.length) =>
  parseIdxHeader(file.subarray(0, Math.min(file.length, idxHeaderLength(kind))), size, kind);

const formatError = (fragment: string) =>
  expect.objectContaining({ name: 'DatasetFormatError', message: expect.stringContaining(fragment) });

describe('CIFAR-10 binary', () => {
  it('counts records and splits them into labels and channels-first images', () => {
    const file = cifarRecords([3, 0, 9]);
    expect(cifar10RecordCount(file.length)).toBe(3);
    const { labels, images, count } = decodeCifar10Records(file);
    expect(count).toBe(3);
    expect([...labels]).toEqual([3, 0, 9]);
    expect(images.length).toBe(3 * 3072);
    // Record 1, green plane (offset 1024), row 2, column 5: stored byte 1 + 1024 + 2·32 + 5 of the record.
    const p = 1024 + 2 * 32 + 5;
    expect(images[1 * 3072 + p]).toBe((7 + p) % 256);
    expect([...decodeCifar10Labels(file)]).toEqual([3, 0, 9]);
  });

  it.each([
    [0, 'expected at least one 3073-byte record (1 label byte + 3×32×32 image bytes), got 0 bytes'],
    [3072, 'got 3072 bytes'],
    [
      3073 * 2 + 10,
      'expected a size that is a multiple of 3073 bytes (1 label byte + 3×32×32 image bytes per record), got 6156 bytes (2 records and 10 bytes more)',
    ],
    [30730001, '(10000 records and 1 bytes more)'],
  ])('refuses a file of %i bytes', (size, fragment) => {
    expect(() => cifar10RecordCount(size)).toThrow(formatError(fragment));
  });

  it('refuses labels out of 0..9, naming the record and offset (and hinting at CIFAR-100)', () => {
    const file = cifarRecords([1, 2, 10]);
    expect(() => decodeCifar10Records(file)).toThrow(
      formatError('expected labels 0..9, got 10 in record 2 (byte offset 6146); is this a CIFAR-100 file'),
    );
    // Records read from the middle of a file report their index in the file.
    expect(() => decodeCifar10Labels(file.subarray(2 * CIFAR10_RECORD_BYTES), 500)).toThrow(
      formatError('got 10 in record 500'),
    );
  });

  it('refuses partial records', () => {
    expect(() => decodeCifar10Records(cifarRecords([1]).subarray(0, 100), 4)).toThrow(
      formatError('expected whole 3073-byte records from record 4, got 100 bytes'),
    );
    expect(() => decodeCifar10Labels(new Uint8Array(3074))).toThrow(DatasetFormatError);
  });
});

describe('IDX', () => {
  it('parses MNIST images and labels headers', () => {
    const images = idxFile(0x08, [5, 28, 28]);
    const labels = idxFile(0x08, [5]);
    expect(header(images, 'images')).toEqual({ kind: 'images', dims: [5, 28, 28], headerLength: 16 });
    expect(header(labels, 'labels')).toEqual({ kind: 'labels', dims: [5], headerLength: 8 });
    expect(() => checkIdxPair(header(images, 'images'), header(labels, 'labels'))).not.toThrow();
    // Other image sizes are fine: [N, H, W].
    expect(header(idxFile(0x08, [2, 3, 4]), 'images').dims).toEqual([2, 3, 4]);
  });

  it.each([
    [
      'a labels file given as images',
      () => idxFile(0x08, [5]),
      'images',
      'expected an IDX images file (magic 0x00000803: unsigned bytes, 3 dimensions N, H, W), got magic 0x00000801 (unsigned byte, 1 dimension)',
    ],
    [
      'an images file given as labels',
      () => idxFile(0x08, [5, 28, 28]),
      'labels',
      'expected an IDX labels file (magic 0x00000801: unsigned bytes, 1 dimension N), got magic 0x00000803 (unsigned byte, 3 dimensions)',
    ],
    [
      'float32 images',
      () => idxFile(0x0d, [1, 2, 2], new Uint8Array(16)),
      'images',
      'got magic 0x00000d03 (float32, 3 dimensions)',
    ],
    [
      'an unknown type',
      () => idxFile(0x42, [1, 1, 1]),
      'images',
      'got magic 0x00004203 (unknown type 0x42, 3 dimensions)',
    ],
    [
      'a file that is not IDX',
      () => new TextEncoder().encode('P5 28 28 255 and then some pixels'),
      'images',
      'got magic 0x50352032 (not an IDX file: IDX files start with two zero bytes)',
    ],
    [
      'a gzip file',
      () => new Uint8Array([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 1, 2, 3, 4, 5, 6]),
      'images',
      'got a gzip-compressed file; decompress it first (gunzip)',
    ],
    [
      'a truncated header',
      () => idxFile(0x08, [5, 28, 28]).subarray(0, 10),
      'images',
      'with a 16-byte header, got a file of 10 bytes',
    ],
    ['an empty file', () => new Uint8Array(0), 'labels', 'with a 8-byte header, got a file of 0 bytes'],
    [
      'a zero dimension',
      () => idxFile(0x08, [0, 28, 28]),
      'images',
      'expected dimensions N, H, W of at least 1, got [0, 28, 28]',
    ],
    ['zero labels', () => idxFile(0x08, [0]), 'labels', 'expected dimension N of at least 1, got [0]'],
    [
      'missing image bytes',
      () => idxFile(0x08, [5, 28, 28]).subarray(0, 16 + 4 * 784),
      'images',
      'expected 16 + 5 × 28 × 28 = 3936 bytes for dimensions [5, 28, 28], got 3152 bytes',
    ],
    [
      'trailing bytes',
      () => idxFile(0x08, [3], new Uint8Array(4)),
      'labels',
      'expected 8 + 3 = 11 bytes for dimensions [3], got 12 bytes',
    ],
    [
      'dimensions past 2^53',
      () => idxFile(0x08, [0xffffffff, 0xffffffff, 0xffffffff], new Uint8Array(0)),
      'images',
      '= more than 2^53 bytes',
    ],
  ] as const)('refuses %s', (_label, make, kind, fragment) => {
    expect(() => header(make(), kind)).toThrow(formatError(fragment));
  });

  it('refuses images and labels of different counts', () => {
    expect(() =>
      checkIdxPair(header(idxFile(0x08, [5, 2, 2]), 'images'), header(idxFile(0x08, [4]), 'labels')),
    ).toThrow(formatError('expected as many labels as images (5), got 4 labels'));
  });
});

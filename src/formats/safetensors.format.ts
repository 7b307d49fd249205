/**
 * The safetensors format (https://github.com/huggingface/safetensors), as linpath's small, strict, pure codec
 * reads it (safetensors.header.ts, safetensors.decode.ts) and writes it (safetensors.encode.ts).
 *
 * Layout: bytes 0..7 hold N, the unsigned 64-bit little-endian length of the header; bytes 8..8+N-1 hold
 * the UTF-8 JSON header (possibly padded with trailing spaces); the data buffer follows. Each header entry
 * other than `__metadata__` is `{"dtype", "shape", "data_offsets": [begin, end)}`, offsets relative to the
 * start of the data buffer, data little-endian and row-major.
 *
 * Checkpoints come from users (and from S3 objects anyone may overwrite), so every field is validated
 * before it is trusted: a bad file must end in a `SafetensorsFormatError` that says what is wrong, never
 * in a `RangeError` deep inside a typed-array constructor or in silently wrong numbers.
 *
 * No I/O here: callers read the 8-byte prefix, then the header, then tensor byte ranges (S3 range GETs or
 * a whole-file buffer) and hand the bytes in.
 */

/** Bytes per element of every dtype this codec understands. */
export const DTYPES = {
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U64: 8,
  U32: 4,
  U16: 2,
  U8: 1,
  BOOL: 1,
} as const;
export type Dtype = keyof typeof DTYPES;

/** One tensor of a parsed header; `begin`/`end` (exclusive) are relative to the start of the data buffer. */
export interface TensorInfo {
  name: string;
  dtype: Dtype;
  shape: number[];
  begin: number;
  end: number;
}

export interface SafetensorsHeader {
  headerLength: number;
  /** Absolute offset of the data buffer in the object: 8 + headerLength. */
  dataStart: number;
  /** objectSize - dataStart. Not necessarily fully covered by tensors. */
  dataLength: number;
  /** `__metadata__`, or `{}` when absent. */
  metadata: Record<string, string>;
  /** In header order: the state_dict order PyTorch writers use (the data may be laid out differently). */
  tensors: TensorInfo[];
}

/** Any malformed safetensors input (or writer input that cannot make a well-formed file). */
export class SafetensorsFormatError extends Error {
  readonly code = 'BAD_SAFETENSORS';
  /** The tensor the problem is about, when there is one. */
  readonly tensor: string | undefined;

  constructor(message: string, tensor?: string) {
    super(message);
    this.name = 'SafetensorsFormatError';
    this.tensor = tensor;
  }
}

/** Headers of real checkpoints are kilobytes; the cap keeps a hostile prefix from making us allocate gigabytes. */
export const DEFAULT_MAX_HEADER_BYTES = 100 * 1024 * 1024;

/** Decoded tensor values: floats widen/narrow to Float32Array, integers keep their own typed array. */
export type DecodedTensor =
  | Float32Array
  | Int8Array
  | Uint8Array
  | Int16Array
  | Uint16Array
  | Int32Array
  | Uint32Array
  | BigInt64Array
  | BigUint64Array;

export type TensorData =
  | Float32Array
  | Float64Array
  | Int8Array
  | Uint8Array
  | Int16Array
  | Uint16Array
  | Int32Array
  | Uint32Array
  | BigInt64Array
  | BigUint64Array;

/**
 * A tensor for `encodeSafetensors`. `data` is the dtype's own typed array (F16/BF16: Uint16Array of bit
 * patterns; BOOL: Uint8Array of 0/1), or for any dtype a Uint8Array of raw little-endian bytes.
 */
export interface TensorToWrite {
  name: string;
  dtype: Dtype;
  shape: number[];
  data: TensorData | Uint8Array;
}

export function isDtype(value: unknown): value is Dtype {
  return typeof value === 'string' && Object.hasOwn(DTYPES, value);
}

/** Dtypes that `decodeTensor` returns as Float32Array (the ones linear interpolation applies to). */
export function isFloatDtype(dtype: Dtype): boolean {
  return dtype === 'F64' || dtype === 'F32' || dtype === 'F16' || dtype === 'BF16';
}

/**
 * A small, strict, pure codec for the safetensors format (https://github.com/huggingface/safetensors).
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

const PREFIX = 'safetensors: ';
const METADATA_KEY = '__metadata__';
const ENTRY_KEYS = ['dtype', 'shape', 'data_offsets'] as const;
const DTYPE_LIST = Object.keys(DTYPES).join(', ');

/** Typed arrays are host-endian; the format is little-endian. Every Node platform we ship on is LE, but stay correct. */
const HOST_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([0x0102]).buffer)[0] === 0x02;

function bad(message: string, tensor?: string): SafetensorsFormatError {
  return new SafetensorsFormatError(
    tensor === undefined ? PREFIX + message : `${PREFIX}tensor ${quote(tensor)}: ${message}`,
    tensor,
  );
}

const DESCRIBE_LIMIT = 80;

/**
 * Short, unambiguous rendering of an untrusted JSON value for error messages. Rendered by hand within a
 * budget, not with JSON.stringify/String: both recurse without limit, so a header of 100 000 nested `[`
 * (valid JSON, which JSON.parse reads iteratively) would end in "Maximum call stack size exceeded", and
 * both would build a string as large as the value only to cut it to 80 characters.
 */
function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (typeof value === 'number') return String(value); // JSON.parse turns 1e400 into Infinity; show that
  const text = (Array.isArray(value) ? 'array ' : '') + renderBounded(value, DESCRIBE_LIMIT + 1);
  return text.length > DESCRIBE_LIMIT ? `${text.slice(0, DESCRIBE_LIMIT - 3)}...` : text;
}

/**
 * JSON-like text of `value`, stopping once about `budget` characters are written. Every nesting level
 * writes at least one character, so the recursion is at most `budget` deep.
 */
function renderBounded(value: unknown, budget: number): string {
  if (budget <= 0) return '';
  if (value === null) return 'null';
  switch (typeof value) {
    case 'number':
      return Number.isFinite(value) ? String(value) : `"${String(value)}"`;
    case 'string':
      return JSON.stringify(value.length > budget ? value.slice(0, budget) : value);
    case 'object':
      break;
    default:
      return String(value).slice(0, budget); // booleans, and whatever a caller of the writer passes
  }
  const isArray = Array.isArray(value);
  let text = isArray ? '[' : '{';
  let first = true;
  for (const [key, item] of isArray ? (value as unknown[]).entries() : ownEntries(value as Record<string, unknown>)) {
    if (text.length >= budget) return text;
    if (!first) text += ',';
    first = false;
    if (!isArray) text += `${renderBounded(key, budget - text.length)}:`;
    text += renderBounded(item, budget - text.length);
  }
  return text + (isArray ? ']' : '}');
}

/** Own enumerable entries, lazily: Object.entries would copy every key of a huge object first. */
function* ownEntries(object: Record<string, unknown>): Generator<[string, unknown]> {
  for (const key in object) if (Object.hasOwn(object, key)) yield [key, object[key]];
}

const NAME_LIMIT = 200;
const SHAPE_LIMIT = 16;

/** A quoted name for a message; a hostile header may hold a name of megabytes, so long ones are cut. */
function quote(name: string): string {
  return name.length <= NAME_LIMIT
    ? JSON.stringify(name)
    : `${JSON.stringify(name.slice(0, NAME_LIMIT))}... (${name.length} characters)`;
}

function formatShape(shape: readonly number[]): string {
  if (shape.length <= SHAPE_LIMIT) return `[${shape.join(', ')}]`;
  return `[${shape.slice(0, SHAPE_LIMIT).join(', ')}, ... (${shape.length} dimensions)]`;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function isDtype(value: unknown): value is Dtype {
  return typeof value === 'string' && Object.hasOwn(DTYPES, value);
}

/** Dtypes that `decodeTensor` returns as Float32Array (the ones linear interpolation applies to). */
export function isFloatDtype(dtype: Dtype): boolean {
  return dtype === 'F64' || dtype === 'F32' || dtype === 'F16' || dtype === 'BF16';
}

/**
 * Element count of a shape, or undefined when it exceeds 2^53 - 1. Once a running product passes 2^53 the
 * double is no longer exact, but it can never round back below, so the check after each step is sound.
 */
function checkedElementCount(shape: readonly number[]): number | undefined {
  if (shape.includes(0)) return 0; // [2^40, 2^40, 0] really is empty
  let count = 1;
  for (const dim of shape) {
    count *= dim;
    if (count > Number.MAX_SAFE_INTEGER) return undefined;
  }
  return count;
}

function checkObjectSize(objectSize: number): void {
  if (!Number.isSafeInteger(objectSize) || objectSize < 0) {
    throw bad(`object size must be a non-negative integer, found ${describe(objectSize)}`);
  }
  if (objectSize < 8) {
    throw bad(`object is ${objectSize} bytes, shorter than the 8-byte header length prefix`);
  }
}

/**
 * Reads and validates N from the first 8 bytes. Read as BigInt: a double would silently round a
 * garbage prefix such as 0xff..ff into some plausible-looking length.
 */
export function readHeaderLength(
  prefix: Uint8Array,
  objectSize: number,
  maxHeaderBytes: number = DEFAULT_MAX_HEADER_BYTES,
): number {
  checkObjectSize(objectSize);
  if (prefix.length < 8) {
    throw bad(`header length prefix must be 8 bytes, got ${prefix.length}`);
  }
  const raw = new DataView(prefix.buffer, prefix.byteOffset, 8).getBigUint64(0, true);
  const hint = foreignFormatHint(prefix);
  if (raw === 0n) {
    throw bad(`header length is 0, expected at least 2 bytes of JSON ("{}")${hint}`);
  }
  if (raw > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw bad(`header length ${raw} exceeds 2^53 - 1; this is not a safetensors file${hint}`);
  }
  const headerLength = Number(raw);
  if (headerLength > maxHeaderBytes) {
    throw bad(`header length ${headerLength} bytes exceeds the limit of ${maxHeaderBytes} bytes${hint}`);
  }
  if (8 + headerLength > objectSize) {
    throw bad(
      `header length ${headerLength} runs past the end of the object (8 + ${headerLength} > ${objectSize} bytes)${hint}`,
    );
  }
  return headerLength;
}

const CONVERT_ADVICE =
  'linpath reads safetensors only and never unpickles; convert it in Python with ' +
  'safetensors.torch.save_file(model.state_dict(), "model.safetensors")';

/**
 * Names the format of a file that is not safetensors but is often mistaken for it: torch.save writes a zip
 * archive (since PyTorch 1.6) or, with _use_new_zipfile_serialization=False, a bare pickle (protocol 2 to 5).
 */
function foreignFormatHint(prefix: Uint8Array): string {
  if (prefix[0] === 0x50 && prefix[1] === 0x4b && prefix[2] === 0x03 && prefix[3] === 0x04) {
    return `; the object starts like a zip archive, as torch.save writes (.pt/.pth/.ckpt): ${CONVERT_ADVICE}`;
  }
  if (prefix[0] === 0x80 && prefix[1] !== undefined && prefix[1] >= 2 && prefix[1] <= 5) {
    return `; the object starts like a Python pickle (protocol ${prefix[1]}), as torch.save writes with the legacy format: ${CONVERT_ADVICE}`;
  }
  return '';
}

/**
 * JSON.parse keeps the last of duplicate keys silently, so `{"w": A, "w": B}` would hide tensor A.
 * Re-scan the (already valid) JSON text once and report the first duplicate key in any object.
 */
function findDuplicateKey(text: string): { key: string; parentKey: string | undefined; depth: number } | undefined {
  interface Frame {
    keys: Set<string> | undefined; // undefined for arrays
    expectKey: boolean;
    parentKey: string | undefined;
  }
  const stack: Frame[] = [];
  let lastKey: string | undefined;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22 /* " */) {
      let j = i + 1;
      let escaped = false;
      while (text.charCodeAt(j) !== 0x22) {
        if (text.charCodeAt(j) === 0x5c /* \ */) {
          escaped = true;
          j++;
        }
        j++;
      }
      const top = stack[stack.length - 1];
      if (top?.keys !== undefined && top.expectKey) {
        const key = escaped ? (JSON.parse(text.slice(i, j + 1)) as string) : text.slice(i + 1, j);
        if (top.keys.has(key)) return { key, parentKey: top.parentKey, depth: stack.length };
        top.keys.add(key);
        top.expectKey = false;
        lastKey = key;
      }
      i = j;
    } else if (c === 0x7b /* { */) {
      stack.push({ keys: new Set(), expectKey: true, parentKey: lastKey });
    } else if (c === 0x5b /* [ */) {
      stack.push({ keys: undefined, expectKey: false, parentKey: lastKey });
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      stack.pop();
    } else if (c === 0x2c /* , */) {
      const top = stack[stack.length - 1];
      if (top?.keys !== undefined) top.expectKey = true;
    }
  }
  return undefined;
}

function nonNegativeInteger(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

function parseTensorEntry(name: string, entry: unknown, dataLength: number): TensorInfo {
  if (name === '') throw bad('tensor name must not be empty');
  if (!isPlainObject(entry)) {
    throw bad(`entry must be an object with dtype, shape and data_offsets, found ${describe(entry)}`, name);
  }
  for (const key of ENTRY_KEYS) {
    if (!Object.hasOwn(entry, key)) throw bad(`missing "${key}"`, name);
  }
  for (const key of Object.keys(entry)) {
    if (!(ENTRY_KEYS as readonly string[]).includes(key)) {
      throw bad(`unexpected key ${quote(key)} (expected only dtype, shape, data_offsets)`, name);
    }
  }

  const dtype = entry['dtype'];
  if (!isDtype(dtype)) throw bad(`unknown dtype ${describe(dtype)}, expected one of ${DTYPE_LIST}`, name);

  const rawShape = entry['shape'];
  if (!Array.isArray(rawShape)) throw bad(`shape must be an array, found ${describe(rawShape)}`, name);
  const shape: number[] = [];
  for (const [i, dim] of (rawShape as unknown[]).entries()) {
    if (!nonNegativeInteger(dim)) {
      throw bad(`shape[${i}] must be a non-negative integer, found ${describe(dim)}`, name);
    }
    shape.push(dim + 0); // JSON "-0" parses to -0
  }
  const count = checkedElementCount(shape);
  if (count === undefined) {
    throw bad(`shape ${formatShape(shape)} has more than 2^53 - 1 elements`, name);
  }
  const elementSize = DTYPES[dtype];
  const byteLength = count * elementSize;
  if (!Number.isSafeInteger(byteLength)) {
    throw bad(`shape ${formatShape(shape)} × ${elementSize} bytes of ${dtype} exceeds 2^53 - 1 bytes`, name);
  }

  const offsets = entry['data_offsets'];
  if (!Array.isArray(offsets) || offsets.length !== 2) {
    throw bad(`data_offsets must be an array of 2 integers [begin, end], found ${describe(offsets)}`, name);
  }
  const [begin, end] = offsets as unknown[];
  if (!nonNegativeInteger(begin))
    throw bad(`data_offsets[0] must be a non-negative integer, found ${describe(begin)}`, name);
  if (!nonNegativeInteger(end))
    throw bad(`data_offsets[1] must be a non-negative integer, found ${describe(end)}`, name);
  if (begin > end) throw bad(`data_offsets [${begin}, ${end}] have begin > end`, name);
  if (end - begin !== byteLength) {
    throw bad(
      `data_offsets [${begin}, ${end}] span ${end - begin} bytes, expected ${byteLength} ` +
        `(shape ${formatShape(shape)} × ${elementSize} bytes of ${dtype})`,
      name,
    );
  }
  if (end > dataLength) {
    throw bad(`data_offsets [${begin}, ${end}] run past the end of the data area (${dataLength} bytes)`, name);
  }
  return { name, dtype, shape, begin: begin + 0, end: end + 0 };
}

/**
 * Parses and validates the JSON header. `headerBytes` starts at byte 8 of the object and holds at least
 * `headerLength` bytes (only the first `headerLength` are read). `objectSize` is the size of the whole
 * object, so that every tensor can be checked to lie inside it before any data is fetched.
 */
export function parseHeader(headerBytes: Uint8Array, headerLength: number, objectSize: number): SafetensorsHeader {
  checkObjectSize(objectSize);
  if (!Number.isSafeInteger(headerLength) || headerLength <= 0) {
    throw bad(`header length must be a positive integer, found ${describe(headerLength)}`);
  }
  if (8 + headerLength > objectSize) {
    throw bad(
      `header length ${headerLength} runs past the end of the object (8 + ${headerLength} > ${objectSize} bytes)`,
    );
  }
  if (headerBytes.length < headerLength) {
    throw bad(`got ${headerBytes.length} header bytes, expected ${headerLength}`);
  }
  const dataStart = 8 + headerLength;
  const dataLength = objectSize - dataStart;

  let text: string;
  try {
    // ignoreBOM keeps a BOM in the text, so JSON.parse rejects it like every other safetensors reader does.
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(headerBytes.subarray(0, headerLength));
  } catch {
    throw bad('header is not valid UTF-8');
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text) as unknown;
  } catch (error) {
    throw bad(`header is not valid JSON (${error instanceof Error ? error.message : String(error)})`);
  }
  if (!isPlainObject(parsed)) {
    throw bad(`header must be a JSON object, found ${parsed === null ? 'null' : describe(parsed)}`);
  }

  const duplicate = findDuplicateKey(text);
  if (duplicate !== undefined) {
    const key = quote(duplicate.key);
    if (duplicate.depth === 1) {
      throw duplicate.key === METADATA_KEY
        ? bad('duplicate "__metadata__" entry')
        : bad(`duplicate tensor name ${key}`);
    }
    if (duplicate.depth === 2 && duplicate.parentKey === METADATA_KEY)
      throw bad(`__metadata__ has duplicate key ${key}`);
    if (duplicate.depth === 2 && duplicate.parentKey !== undefined)
      throw bad(`duplicate key ${key}`, duplicate.parentKey);
    throw bad(`header has duplicate key ${key}`);
  }

  let metadata: Record<string, string> = {};
  const tensors: TensorInfo[] = [];
  for (const [name, entry] of Object.entries(parsed)) {
    if (name === METADATA_KEY) {
      if (!isPlainObject(entry)) throw bad(`__metadata__ must be an object of strings, found ${describe(entry)}`);
      for (const [key, value] of Object.entries(entry)) {
        if (typeof value !== 'string') {
          throw bad(`__metadata__ ${quote(key)} must be a string, found ${describe(value)}`);
        }
      }
      // fromEntries defines own properties, so a "__proto__" key stays data instead of changing the prototype.
      metadata = Object.fromEntries(Object.entries(entry as Record<string, string>));
      continue;
    }
    tensors.push(parseTensorEntry(name, entry, dataLength));
  }

  const byOffset = [...tensors].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let previous: TensorInfo | undefined;
  for (const tensor of byOffset) {
    if (tensor.begin === tensor.end) continue; // empty tensors occupy no bytes
    if (previous !== undefined && tensor.begin < previous.end) {
      throw bad(
        `tensors ${quote(previous.name)} [${previous.begin}, ${previous.end}] and ` +
          `${quote(tensor.name)} [${tensor.begin}, ${tensor.end}] overlap`,
        tensor.name,
      );
    }
    previous = tensor;
  }

  return { headerLength, dataStart, dataLength, metadata, tensors };
}

/** Convenience for a whole file already in memory. */
export function parseSafetensors(
  file: Uint8Array,
  maxHeaderBytes: number = DEFAULT_MAX_HEADER_BYTES,
): SafetensorsHeader {
  const headerLength = readHeaderLength(file.subarray(0, 8), file.length, maxHeaderBytes);
  return parseHeader(file.subarray(8, 8 + headerLength), headerLength, file.length);
}

/** The bytes of one tensor of a whole file in memory (a view, no copy). */
export function tensorBytes(file: Uint8Array, header: SafetensorsHeader, info: TensorInfo): Uint8Array {
  return file.subarray(header.dataStart + info.begin, header.dataStart + info.end);
}

/** Number of elements (1 for a scalar). */
export function headerTensorElementCount(t: TensorInfo): number {
  // TensorInfo may come back from storage rather than from parseHeader: [-2, -2] must not pass as 4 elements.
  if (!Array.isArray(t.shape)) throw bad(`shape must be an array, found ${describe(t.shape)}`, t.name);
  for (const [i, dim] of t.shape.entries()) {
    if (!nonNegativeInteger(dim))
      throw bad(`shape[${i}] must be a non-negative integer, found ${describe(dim)}`, t.name);
  }
  const count = checkedElementCount(t.shape);
  if (count === undefined) throw bad(`shape ${formatShape(t.shape)} has more than 2^53 - 1 elements`, t.name);
  return count;
}

function checkUint16(bits: number, fn: string): void {
  if (!Number.isInteger(bits) || bits < 0 || bits > 0xffff) {
    throw new RangeError(`${fn}: expected a 16-bit pattern 0..65535, got ${bits}`);
  }
}

/** IEEE 754 binary16 bit pattern to its exact value (every binary16 is exactly a binary32/number). */
export function float16ToFloat32(bits: number): number {
  checkUint16(bits, 'float16ToFloat32');
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const fraction = bits & 0x3ff;
  if (exponent === 0) return sign * fraction * 2 ** -24;
  if (exponent === 0x1f) return fraction === 0 ? sign * Infinity : NaN;
  return sign * 2 ** (exponent - 15) * (1 + fraction / 1024);
}

const SCRATCH_U32 = new Uint32Array(1);
const SCRATCH_F32 = new Float32Array(SCRATCH_U32.buffer);

/** bfloat16 is the top half of a binary32, so the conversion is a shift. */
export function bfloat16ToFloat32(bits: number): number {
  checkUint16(bits, 'bfloat16ToFloat32');
  SCRATCH_U32[0] = bits << 16;
  return SCRATCH_F32[0] as number;
}

/** binary16 bits -> binary32 bits, exact, NaN payloads kept (used to build the decode table). */
function float16BitsToFloat32Bits(h: number): number {
  const sign = (h & 0x8000) << 16;
  const exponent = (h >> 10) & 0x1f;
  let fraction = h & 0x3ff;
  if (exponent === 0x1f) return (sign | 0x7f800000 | (fraction << 13)) >>> 0;
  if (exponent !== 0) return (sign | ((exponent + 112) << 23) | (fraction << 13)) >>> 0;
  if (fraction === 0) return sign >>> 0;
  let e = 113; // subnormal: normalise so the implicit bit is set
  while ((fraction & 0x400) === 0) {
    fraction <<= 1;
    e--;
  }
  return (sign | (e << 23) | ((fraction & 0x3ff) << 13)) >>> 0;
}

let float16Table: Uint32Array | undefined;
/** 256 KiB lookup table, built on first use: one load per element beats branching on 45 MB checkpoints. */
function getFloat16Table(): Uint32Array {
  if (float16Table === undefined) {
    float16Table = new Uint32Array(0x10000);
    for (let h = 0; h < 0x10000; h++) float16Table[h] = float16BitsToFloat32Bits(h);
  }
  return float16Table;
}

function swapBytesInPlace(bytes: Uint8Array, elementSize: number): void {
  if (elementSize === 1) return;
  for (let i = 0; i < bytes.length; i += elementSize) bytes.subarray(i, i + elementSize).reverse();
}

/**
 * A fresh, 8-byte-aligned, host-endian copy. Always a copy: the input may be a pooled Node Buffer or a
 * view into a larger download, and decoded tensors must own their memory.
 */
function ownedHostEndian(bytes: Uint8Array, elementSize: number): ArrayBuffer {
  const copy = new Uint8Array(bytes.length);
  copy.set(bytes);
  if (!HOST_LITTLE_ENDIAN) swapBytesInPlace(copy, elementSize);
  return copy.buffer;
}

/** Uint16 view of little-endian data: zero-copy when aligned on an LE host (the result is converted anyway). */
function uint16Values(bytes: Uint8Array): Uint16Array {
  if (HOST_LITTLE_ENDIAN && bytes.byteOffset % 2 === 0) {
    return new Uint16Array(bytes.buffer, bytes.byteOffset, bytes.length / 2);
  }
  return new Uint16Array(ownedHostEndian(bytes, 2));
}

/**
 * Decodes one tensor's bytes (exactly `end - begin` of them). F32/F64/F16/BF16 become a Float32Array
 * (F16/BF16 exact, F64 rounded to nearest float32); integer dtypes keep their own typed array; BOOL is a
 * Uint8Array of 0/1. The result never aliases `bytes`; `bytes` may have any byteOffset.
 */
export function decodeTensor(info: TensorInfo, bytes: Uint8Array): DecodedTensor {
  const { dtype, name } = info;
  if (!isDtype(dtype)) throw bad(`unknown dtype ${describe(dtype)}, expected one of ${DTYPE_LIST}`, name);
  const span = info.end - info.begin;
  if (bytes.length !== span) {
    throw bad(`got ${bytes.length} bytes, expected ${span} (data_offsets [${info.begin}, ${info.end}])`, name);
  }
  const elementSize = DTYPES[dtype];
  const count = headerTensorElementCount(info);
  if (count * elementSize !== span) {
    throw bad(
      `data_offsets [${info.begin}, ${info.end}] span ${span} bytes, expected ${count * elementSize} ` +
        `(shape ${formatShape(info.shape)} × ${elementSize} bytes of ${dtype})`,
      name,
    );
  }

  switch (dtype) {
    case 'F32':
      return new Float32Array(ownedHostEndian(bytes, 4));
    case 'F64': {
      const values =
        HOST_LITTLE_ENDIAN && bytes.byteOffset % 8 === 0
          ? new Float64Array(bytes.buffer, bytes.byteOffset, count)
          : new Float64Array(ownedHostEndian(bytes, 8));
      return new Float32Array(values); // rounds to nearest, ties to even (= Math.fround)
    }
    case 'F16': {
      const table = getFloat16Table();
      const halves = uint16Values(bytes);
      const out = new Uint32Array(count);
      for (let i = 0; i < count; i++) out[i] = table[halves[i] as number] as number;
      return new Float32Array(out.buffer);
    }
    case 'BF16': {
      const halves = uint16Values(bytes);
      const out = new Uint32Array(count);
      for (let i = 0; i < count; i++) out[i] = (halves[i] as number) << 16;
      return new Float32Array(out.buffer);
    }
    case 'I64':
      return new BigInt64Array(ownedHostEndian(bytes, 8));
    case 'U64':
      return new BigUint64Array(ownedHostEndian(bytes, 8));
    case 'I32':
      return new Int32Array(ownedHostEndian(bytes, 4));
    case 'U32':
      return new Uint32Array(ownedHostEndian(bytes, 4));
    case 'I16':
      return new Int16Array(ownedHostEndian(bytes, 2));
    case 'U16':
      return new Uint16Array(ownedHostEndian(bytes, 2));
    case 'I8':
      return new Int8Array(ownedHostEndian(bytes, 1));
    case 'U8':
      return new Uint8Array(ownedHostEndian(bytes, 1));
    case 'BOOL': {
      const values = new Uint8Array(ownedHostEndian(bytes, 1));
      for (let i = 0; i < values.length; i++) {
        if ((values[i] as number) > 1) throw bad(`BOOL element ${i} is ${values[i]}, expected 0 or 1`, name);
      }
      return values;
    }
  }
}

/** The typed array each dtype is written from (F16/BF16: their bit patterns). */
const WRITE_ARRAY: Record<Dtype, string> = {
  F64: 'Float64Array',
  F32: 'Float32Array',
  F16: 'Uint16Array',
  BF16: 'Uint16Array',
  I64: 'BigInt64Array',
  I32: 'Int32Array',
  I16: 'Int16Array',
  I8: 'Int8Array',
  U64: 'BigUint64Array',
  U32: 'Uint32Array',
  U16: 'Uint16Array',
  U8: 'Uint8Array',
  BOOL: 'Uint8Array',
};

/** Typed-array kind by internal slot, not `instanceof`, so arrays from another realm (vm, worker) still pass. */
function typedArrayName(value: unknown): string | undefined {
  if (!ArrayBuffer.isView(value) || value instanceof DataView) return undefined;
  return (value as Uint8Array)[Symbol.toStringTag];
}

interface PlannedTensor {
  name: string;
  dtype: Dtype;
  shape: number[];
  bytes: Uint8Array;
  /** Host-endian typed-array data (swap on BE hosts) rather than raw little-endian bytes. */
  hostEndian: boolean;
  elementSize: number;
  begin: number;
  end: number;
}

function planTensor(t: TensorToWrite, seen: Set<string>): PlannedTensor {
  const { name, dtype, shape, data } = t;
  if (typeof name !== 'string' || name === '')
    throw bad(`tensor name must be a non-empty string, found ${describe(name)}`);
  if (name === METADATA_KEY) throw bad('"__metadata__" is reserved and cannot be a tensor name');
  if (seen.has(name)) throw bad(`duplicate tensor name ${quote(name)}`, name);
  seen.add(name);
  if (!isDtype(dtype)) throw bad(`unknown dtype ${describe(dtype)}, expected one of ${DTYPE_LIST}`, name);
  if (!Array.isArray(shape)) throw bad(`shape must be an array, found ${describe(shape)}`, name);
  for (const [i, dim] of shape.entries()) {
    if (!nonNegativeInteger(dim)) throw bad(`shape[${i}] must be a non-negative integer, found ${describe(dim)}`, name);
  }
  const count = checkedElementCount(shape);
  if (count === undefined) throw bad(`shape ${formatShape(shape)} has more than 2^53 - 1 elements`, name);
  const elementSize = DTYPES[dtype];
  const expected = WRITE_ARRAY[dtype];
  const actual = typedArrayName(data);
  let bytes: Uint8Array;
  let hostEndian: boolean;
  if (actual === expected) {
    const typed = data as TensorData;
    if (typed.length !== count) {
      throw bad(`shape ${formatShape(shape)} has ${count} elements, but the ${actual} has ${typed.length}`, name);
    }
    bytes = new Uint8Array(typed.buffer, typed.byteOffset, typed.byteLength);
    hostEndian = true;
  } else if (actual === 'Uint8Array') {
    bytes = data as Uint8Array;
    if (bytes.length !== count * elementSize) {
      throw bad(
        `shape ${formatShape(shape)} × ${elementSize} bytes of ${dtype} needs ${count * elementSize} bytes, ` +
          `but the raw data has ${bytes.length}`,
        name,
      );
    }
    hostEndian = false;
  } else {
    throw bad(
      `dtype ${dtype} is written from a ${expected} (or raw little-endian bytes in a Uint8Array), found ${actual ?? describe(data)}`,
      name,
    );
  }
  if (dtype === 'BOOL') {
    const i = bytes.findIndex((b) => b > 1);
    if (i >= 0) throw bad(`BOOL element ${i} is ${bytes[i]}, expected 0 or 1`, name);
  }
  return { name, dtype, shape: shape.map((d) => d + 0), bytes, hostEndian, elementSize, begin: 0, end: 0 };
}

/**
 * Writes a complete safetensors file. Header keys keep the given order (`__metadata__` first when given);
 * the data is laid out by element size, largest first (stable), so every tensor starts at a multiple of
 * its element size, as the PyTorch writer does; the header is space-padded so the data starts at a
 * multiple of 8. Together that lets readers use aligned typed-array views.
 */
export function encodeSafetensors(
  tensors: readonly TensorToWrite[],
  metadata?: Readonly<Record<string, string>>,
): Uint8Array {
  const seen = new Set<string>();
  const planned = tensors.map((t) => planTensor(t, seen));

  let offset = 0;
  for (const p of [...planned].sort((a, b) => b.elementSize - a.elementSize)) {
    p.begin = offset;
    offset += p.bytes.length;
    p.end = offset;
  }

  // Built by hand, not JSON.stringify(object): an object would move integer-like names ("0") to the front.
  const entries: string[] = [];
  if (metadata !== undefined) {
    if (!isPlainObject(metadata)) throw bad(`__metadata__ must be an object of strings, found ${describe(metadata)}`);
    const fields = Object.entries(metadata).map(([key, value]) => {
      if (typeof value !== 'string')
        throw bad(`__metadata__ ${JSON.stringify(key)} must be a string, found ${describe(value)}`);
      return `${JSON.stringify(key)}:${JSON.stringify(value)}`;
    });
    entries.push(`"${METADATA_KEY}":{${fields.join(',')}}`);
  }
  for (const p of planned) {
    entries.push(
      `${JSON.stringify(p.name)}:{"dtype":"${p.dtype}","shape":[${p.shape.join(',')}],"data_offsets":[${p.begin},${p.end}]}`,
    );
  }
  const json = new TextEncoder().encode(`{${entries.join(',')}}`);
  const headerLength = Math.ceil(json.length / 8) * 8;
  const dataStart = 8 + headerLength;

  const out = new Uint8Array(dataStart + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerLength), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, dataStart);
  for (const p of planned) {
    out.set(p.bytes, dataStart + p.begin);
    if (p.hostEndian && !HOST_LITTLE_ENDIAN)
      swapBytesInPlace(out.subarray(dataStart + p.begin, dataStart + p.end), p.elementSize);
  }
  return out;
}

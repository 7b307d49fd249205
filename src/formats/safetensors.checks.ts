/** Checks and error messages shared by the safetensors reader and writer: every message names what was found. */
import { DTYPES, SafetensorsFormatError } from './safetensors.format.js';

const PREFIX = 'safetensors: ';
export const METADATA_KEY = '__metadata__';
export const ENTRY_KEYS = ['dtype', 'shape', 'data_offsets'] as const;
export const DTYPE_LIST = Object.keys(DTYPES).join(', ');

/** Typed arrays are host-endian; the format is little-endian. Every Node platform we ship on is LE, but stay correct. */
export const HOST_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([0x0102]).buffer)[0] === 0x02;

export function bad(message: string, tensor?: string): SafetensorsFormatError {
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
export function describe(value: unknown): string {
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
export function quote(name: string): string {
  return name.length <= NAME_LIMIT
    ? JSON.stringify(name)
    : `${JSON.stringify(name.slice(0, NAME_LIMIT))}... (${name.length} characters)`;
}

export function formatShape(shape: readonly number[]): string {
  if (shape.length <= SHAPE_LIMIT) return `[${shape.join(', ')}]`;
  return `[${shape.slice(0, SHAPE_LIMIT).join(', ')}, ... (${shape.length} dimensions)]`;
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Element count of a shape, or undefined when it exceeds 2^53 - 1. Once a running product passes 2^53 the
 * double is no longer exact, but it can never round back below, so the check after each step is sound.
 */
export function checkedElementCount(shape: readonly number[]): number | undefined {
  if (shape.includes(0)) return 0; // [2^40, 2^40, 0] really is empty
  let count = 1;
  for (const dim of shape) {
    count *= dim;
    if (count > Number.MAX_SAFE_INTEGER) return undefined;
  }
  return count;
}

export function checkObjectSize(objectSize: number): void {
  if (!Number.isSafeInteger(objectSize) || objectSize < 0) {
    throw bad(`object size must be a non-negative integer, found ${describe(objectSize)}`);
  }
  if (objectSize < 8) {
    throw bad(`object is ${objectSize} bytes, shorter than the 8-byte header length prefix`);
  }
}

export function nonNegativeInteger(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

export function swapBytesInPlace(bytes: Uint8Array, elementSize: number): void {
  if (elementSize === 1) return;
  for (let i = 0; i < bytes.length; i += elementSize) bytes.subarray(i, i + elementSize).reverse();
}

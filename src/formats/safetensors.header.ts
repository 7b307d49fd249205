import {
  METADATA_KEY,
  ENTRY_KEYS,
  DTYPE_LIST,
  bad,
  describe,
  quote,
  formatShape,
  isPlainObject,
  checkedElementCount,
  checkObjectSize,
  nonNegativeInteger,
} from './safetensors.checks.js';
import {
  DTYPES,
  type TensorInfo,
  type SafetensorsHeader,
  DEFAULT_MAX_HEADER_BYTES,
  isDtype,
} from './safetensors.format.js';

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
  // Names and metadata are stored as Postgres text, which cannot hold NUL: refused here, before any upload.
  const nul = (what: string) => bad(`${what} contains the NUL character (U+0000), which cannot be stored`);
  for (const [name, entry] of Object.entries(parsed)) {
    if (name === METADATA_KEY) {
      if (!isPlainObject(entry)) throw bad(`__metadata__ must be an object of strings, found ${describe(entry)}`);
      for (const [key, value] of Object.entries(entry)) {
        if (typeof value !== 'string') {
          throw bad(`__metadata__ ${quote(key)} must be a string, found ${describe(value)}`);
        }
        if (key.includes('\u0000') || value.includes('\u0000')) throw nul(`__metadata__ ${quote(key)}`);
      }
      // fromEntries defines own properties, so a "__proto__" key stays data instead of changing the prototype.
      metadata = Object.fromEntries(Object.entries(entry as Record<string, string>));
      continue;
    }
    if (name.includes('\u0000')) throw nul(`tensor name ${quote(name)}`);
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

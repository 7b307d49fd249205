import {
  METADATA_KEY,
  DTYPE_LIST,
  HOST_LITTLE_ENDIAN,
  bad,
  describe,
  quote,
  formatShape,
  isPlainObject,
  checkedElementCount,
  nonNegativeInteger,
  swapBytesInPlace,
} from './safetensors.checks.js';
import { DTYPES, type Dtype, type TensorData, type TensorToWrite, isDtype } from './safetensors.format.js';

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

import { headerTensorElementCount } from './safetensors.header.js';
import { DTYPE_LIST, HOST_LITTLE_ENDIAN, bad, describe, formatShape, swapBytesInPlace } from './safetensors.checks.js';
import { DTYPES, type TensorInfo, type DecodedTensor, isDtype } from './safetensors.format.js';

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

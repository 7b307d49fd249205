import { readFileSync } from 'node:fs';
import { describe, it, expect } from 'vitest';
import { bfloat16ToFloat32, decodeTensor, float16ToFloat32 } from '../../src/formats/safetensors.decode.js';
import { encodeSafetensors } from '../../src/formats/safetensors.encode.js';
import { DEFAULT_MAX_HEADER_BYTES, DTYPES, SafetensorsFormatError } from '../../src/formats/safetensors.format.js';
import {
  headerTensorElementCount,
  parseHeader,
  parseSafetensors,
  readHeaderLength,
  tensorBytes,
} from '../../src/formats/safetensors.header.js';
import type { Dtype, SafetensorsHeader, TensorInfo, TensorToWrite } from '../../src/formats/safetensors.format.js';
import { fixturePath } from '../helpers/fixtures.js';

const fixture = (name: string): Uint8Array => new Uint8Array(readFileSync(fixturePath(`mlp/${name}`)));

/** A file with the given header text (no padding unless included) followed by `dataLength` zero bytes. */
function rawFile(headerText: string, dataLength = 0, data?: Uint8Array): Uint8Array {
  const json = new TextEncoder().encode(headerText);
  const out = new Uint8Array(8 + json.length + dataLength);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  if (data !== undefined) out.set(data, 8 + json.length);
  return out;
}

function fileWithHeaderBytes(header: Uint8Array, dataLength = 0): Uint8Array {
  const out = new Uint8Array(8 + header.length + dataLength);
  new DataView(out.buffer).setBigUint64(0, BigInt(header.length), true);
  out.set(header, 8);
  return out;
}

/** Runs both stages the way a caller with range reads would. */
function parse(file: Uint8Array, maxHeaderBytes?: number): SafetensorsHeader {
  const headerLength = readHeaderLength(file.subarray(0, 8), file.length, maxHeaderBytes);
  return parseHeader(file.subarray(8, 8 + headerLength), headerLength, file.length);
}

const parseJson = (header: unknown, dataLength = 0): SafetensorsHeader =>
  parse(rawFile(JSON.stringify(header), dataLength));

function expectBad(fn: () => unknown, fragment: string): SafetensorsFormatError {
  let caught: unknown;
  try {
    fn();
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(SafetensorsFormatError);
  const error = caught as SafetensorsFormatError;
  expect(error.code).toBe('BAD_SAFETENSORS');
  expect(error.message).toContain(fragment);
  expect(error.message.startsWith('safetensors: ')).toBe(true);
  return error;
}

const f32 = (dtype: Dtype, shape: number[], offsets: [number, number]): Record<string, unknown> => ({
  dtype,
  shape,
  data_offsets: offsets,
});

describe('float16ToFloat32 / bfloat16ToFloat32', () => {
  it('converts hand-computed binary16 values exactly', () => {
    expect(float16ToFloat32(0x3c00)).toBe(1);
    expect(float16ToFloat32(0xc000)).toBe(-2);
    expect(float16ToFloat32(0x7bff)).toBe(65504);
    expect(float16ToFloat32(0x0001)).toBe(2 ** -24);
    expect(float16ToFloat32(0x03ff)).toBe(1023 * 2 ** -24); // largest subnormal
    expect(float16ToFloat32(0x0400)).toBe(2 ** -14); // smallest normal
    expect(float16ToFloat32(0x3555)).toBe(0.333251953125);
    expect(float16ToFloat32(0x7c00)).toBe(Infinity);
    expect(float16ToFloat32(0xfc00)).toBe(-Infinity);
    expect(float16ToFloat32(0x7e00)).toBeNaN();
    expect(float16ToFloat32(0xfc01)).toBeNaN();
    expect(Object.is(float16ToFloat32(0x0000), 0)).toBe(true);
    expect(Object.is(float16ToFloat32(0x8000), -0)).toBe(true);
  });

  it('converts hand-computed bfloat16 values exactly', () => {
    expect(bfloat16ToFloat32(0x3f80)).toBe(1);
    expect(bfloat16ToFloat32(0xc000)).toBe(-2);
    expect(bfloat16ToFloat32(0x4049)).toBe(3.140625);
    expect(bfloat16ToFloat32(0x0001)).toBe(2 ** -133);
    expect(bfloat16ToFloat32(0x7f80)).toBe(Infinity);
    expect(bfloat16ToFloat32(0xff80)).toBe(-Infinity);
    expect(bfloat16ToFloat32(0x7fc0)).toBeNaN();
    expect(Object.is(bfloat16ToFloat32(0x8000), -0)).toBe(true);
  });

  it('rejects values that are not 16-bit patterns', () => {
    expect(() => float16ToFloat32(0x10000)).toThrow(RangeError);
    expect(() => bfloat16ToFloat32(-1)).toThrow('expected a 16-bit pattern');
    expect(() => float16ToFloat32(1.5)).toThrow(RangeError);
  });

  it('decodeTensor F16 agrees with float16ToFloat32 on all 65536 patterns, and BF16 with bfloat16ToFloat32', () => {
    const all = new Uint16Array(0x10000).map((_, i) => i);
    const half = decodeTensor(
      { name: 'h', dtype: 'F16', shape: [0x10000], begin: 0, end: 0x20000 },
      new Uint8Array(all.buffer),
    );
    const brain = decodeTensor(
      { name: 'b', dtype: 'BF16', shape: [0x10000], begin: 0, end: 0x20000 },
      new Uint8Array(all.buffer),
    );
    expect(half).toBeInstanceOf(Float32Array);
    expect(brain).toBeInstanceOf(Float32Array);
    for (let i = 0; i < 0x10000; i++) {
      const h = half[i] as number;
      const b = brain[i] as number;
      if (Number.isNaN(float16ToFloat32(i))) expect(h).toBeNaN();
      else if (!Object.is(h, float16ToFloat32(i))) expect(h, `F16 0x${i.toString(16)}`).toBe(float16ToFloat32(i));
      if (Number.isNaN(bfloat16ToFloat32(i))) expect(b).toBeNaN();
      else if (!Object.is(b, bfloat16ToFloat32(i))) expect(b, `BF16 0x${i.toString(16)}`).toBe(bfloat16ToFloat32(i));
    }
    // NaN payloads survive the table-based F16 decode (bits, not numbers)
    const bits = new Uint32Array((half as Float32Array).buffer);
    expect(bits[0x7e01]).toBe(0x7fc02000);
  });
});

describe('encodeSafetensors / parseHeader / decodeTensor round trip', () => {
  const tensors: TensorToWrite[] = [
    { name: 'f32', dtype: 'F32', shape: [2, 3], data: new Float32Array([1.5, -2, 3.25, 0, -0, 1e-40]) },
    { name: 'f64', dtype: 'F64', shape: [4], data: new Float64Array([0.1, -1e300, 2 ** -149, 123456789.123]) },
    { name: 'f16', dtype: 'F16', shape: [6], data: new Uint16Array([0x3c00, 0xc000, 0x7bff, 0x0001, 0x7c00, 0x7e00]) },
    { name: 'bf16', dtype: 'BF16', shape: [5], data: new Uint16Array([0x3f80, 0xc000, 0x7f80, 0xff80, 0x0001]) },
    { name: 'i64', dtype: 'I64', shape: [3], data: new BigInt64Array([-(2n ** 63n), 2n ** 63n - 1n, 42n]) },
    { name: 'u64', dtype: 'U64', shape: [2], data: new BigUint64Array([2n ** 64n - 1n, 7n]) },
    { name: 'i32', dtype: 'I32', shape: [3], data: new Int32Array([-(2 ** 31), 2 ** 31 - 1, -5]) },
    { name: 'u32', dtype: 'U32', shape: [2], data: new Uint32Array([2 ** 32 - 1, 9]) },
    { name: 'i16', dtype: 'I16', shape: [3], data: new Int16Array([-32768, 32767, -1]) },
    { name: 'u16', dtype: 'U16', shape: [1, 3], data: new Uint16Array([65535, 0, 258]) },
    { name: 'i8', dtype: 'I8', shape: [3], data: new Int8Array([-128, 127, -1]) },
    { name: 'u8', dtype: 'U8', shape: [3], data: new Uint8Array([255, 0, 17]) },
    { name: 'bool', dtype: 'BOOL', shape: [4], data: new Uint8Array([1, 0, 0, 1]) },
    { name: 'scalar_f32', dtype: 'F32', shape: [], data: new Float32Array([Math.PI]) },
    { name: 'scalar_i64', dtype: 'I64', shape: [], data: new BigInt64Array([-3n]) },
    { name: 'scalar_bool', dtype: 'BOOL', shape: [], data: new Uint8Array([1]) },
    { name: 'empty_f32', dtype: 'F32', shape: [0, 3], data: new Float32Array(0) },
    { name: 'empty_u8', dtype: 'U8', shape: [2, 0], data: new Uint8Array(0) },
    { name: 'empty_f16', dtype: 'F16', shape: [0], data: new Uint16Array(0) },
  ];
  const metadata = { format: 'pt', note: 'héllo "quoted" ✓' };
  const expected: Record<string, unknown[]> = {
    f32: [1.5, -2, 3.25, 0, -0, Math.fround(1e-40)],
    f64: [Math.fround(0.1), -Infinity, 2 ** -149, Math.fround(123456789.123)],
    f16: [1, -2, 65504, 2 ** -24, Infinity, NaN],
    bf16: [1, -2, Infinity, -Infinity, 2 ** -133],
    i64: [-(2n ** 63n), 2n ** 63n - 1n, 42n],
    u64: [2n ** 64n - 1n, 7n],
    i32: [-(2 ** 31), 2 ** 31 - 1, -5],
    u32: [2 ** 32 - 1, 9],
    i16: [-32768, 32767, -1],
    u16: [65535, 0, 258],
    i8: [-128, 127, -1],
    u8: [255, 0, 17],
    bool: [1, 0, 0, 1],
    scalar_f32: [Math.fround(Math.PI)],
    scalar_i64: [-3n],
    scalar_bool: [1],
    empty_f32: [],
    empty_u8: [],
    empty_f16: [],
  };
  const arrayType: Record<Dtype, string> = {
    F64: 'Float32Array',
    F32: 'Float32Array',
    F16: 'Float32Array',
    BF16: 'Float32Array',
    I64: 'BigInt64Array',
    U64: 'BigUint64Array',
    I32: 'Int32Array',
    U32: 'Uint32Array',
    I16: 'Int16Array',
    U16: 'Uint16Array',
    I8: 'Int8Array',
    U8: 'Uint8Array',
    BOOL: 'Uint8Array',
  };

  function checkDecoded(file: Uint8Array): void {
    const header = parseSafetensors(file);
    expect(header.metadata).toEqual(metadata);
    expect(header.tensors.map((t) => t.name).sort()).toEqual(tensors.map((t) => t.name).sort());
    for (const info of header.tensors) {
      const source = tensors.find((t) => t.name === info.name);
      expect(source).toBeDefined();
      expect(info.dtype).toBe(source?.dtype);
      expect(info.shape).toEqual(source?.shape);
      expect(headerTensorElementCount(info)).toBe(expected[info.name]?.length);
      const values = decodeTensor(info, tensorBytes(file, header, info));
      expect(values[Symbol.toStringTag]).toBe(arrayType[info.dtype]);
      expect(Array.from(values as ArrayLike<unknown>)).toEqual(expected[info.name]);
    }
  }

  it('round-trips every dtype, scalars and zero-size tensors', () => {
    checkDecoded(encodeSafetensors(tensors, metadata));
  });

  it('decodes from unaligned input bytes (odd byteOffset)', () => {
    const file = encodeSafetensors(tensors, metadata);
    for (const shift of [1, 2, 3, 5]) {
      const host = new Uint8Array(file.length + shift);
      host.set(file, shift);
      const unaligned = host.subarray(shift);
      expect(unaligned.byteOffset % 2).toBe(shift % 2);
      checkDecoded(unaligned);
    }
  });

  it('returns arrays that do not alias the input', () => {
    const file = encodeSafetensors([{ name: 'w', dtype: 'F32', shape: [2], data: new Float32Array([1, 2]) }]);
    const header = parseSafetensors(file);
    const info = header.tensors[0] as TensorInfo;
    const bytes = tensorBytes(file, header, info);
    const values = decodeTensor(info, bytes);
    bytes.fill(0);
    expect(Array.from(values as Float32Array)).toEqual([1, 2]);
  });

  it('lays out data like the PyTorch writer: aligned header, largest elements first, keys in given order', () => {
    const file = encodeSafetensors(tensors, metadata);
    const header = parseSafetensors(file);
    expect(header.dataStart % 8).toBe(0);
    expect(header.dataLength).toBe(header.tensors.reduce((sum, t) => sum + (t.end - t.begin), 0));
    for (const t of header.tensors) expect(t.begin % DTYPES[t.dtype]).toBe(0);
    const byOffset = [...header.tensors].sort((a, b) => a.begin - b.begin);
    const sizes = byOffset.filter((t) => t.end > t.begin).map((t) => DTYPES[t.dtype]);
    expect(sizes).toEqual([...sizes].sort((a, b) => b - a));
    expect(byOffset[0]?.dtype).toMatch(/^(F64|I64|U64)$/);
    expect(header.tensors.map((t) => t.name)).toEqual(tensors.map((t) => t.name));
    const text = new TextDecoder().decode(file.subarray(8, header.dataStart));
    expect(text).toMatch(/^\{"__metadata__":/);
    expect(text.trimEnd().endsWith('}')).toBe(true);
    expect(text.slice(text.trimEnd().length)).toMatch(/^ *$/);
    expect(Object.keys(JSON.parse(text) as object)).toEqual(['__metadata__', ...tensors.map((t) => t.name)]);
  });

  it('keeps integer-like names in the given order and writes no metadata when none is given', () => {
    const file = encodeSafetensors([
      { name: 'b', dtype: 'U8', shape: [1], data: new Uint8Array([1]) },
      { name: '0', dtype: 'U8', shape: [1], data: new Uint8Array([2]) },
    ]);
    const text = new TextDecoder().decode(file.subarray(8, parseSafetensors(file).dataStart));
    expect(text.indexOf('"b"')).toBeLessThan(text.indexOf('"0"'));
    expect(text).not.toContain('__metadata__');
    expect(parseSafetensors(file).metadata).toEqual({});
  });

  it('encodes an empty tensor list', () => {
    const file = encodeSafetensors([]);
    expect(file.length).toBe(16);
    expect(parseSafetensors(file)).toEqual({
      headerLength: 8,
      dataStart: 16,
      dataLength: 0,
      metadata: {},
      tensors: [],
    });
  });

  it('accepts raw little-endian bytes for F16/BF16 (and any dtype)', () => {
    const raw = new Uint8Array([0x00, 0x3c, 0x00, 0xc0]); // F16 1, -2
    const file = encodeSafetensors([
      { name: 'h', dtype: 'F16', shape: [2], data: raw },
      { name: 'b', dtype: 'BF16', shape: [2], data: new Uint8Array([0x80, 0x3f, 0x00, 0xc0]) },
      { name: 'f', dtype: 'F32', shape: [1], data: new Uint8Array(new Float32Array([0.5]).buffer) },
    ]);
    const header = parseSafetensors(file);
    const decoded = Object.fromEntries(
      header.tensors.map((t) => [t.name, Array.from(decodeTensor(t, tensorBytes(file, header, t)) as Float32Array)]),
    );
    expect(decoded).toEqual({ h: [1, -2], b: [1, -2], f: [0.5] });
  });

  it('accepts a padded header, extra uncovered data and a zero-length tensor inside another', () => {
    const header = parseJson(
      { a: f32('F32', [2], [0, 8]), z: f32('F32', [0], [4, 4]), b: f32('U8', [2], [10, 12]) },
      20,
    );
    expect(header.tensors.map((t) => t.name)).toEqual(['a', 'z', 'b']);
    expect(header.dataLength).toBe(20);
    const padded = parse(rawFile('{"x":{"dtype":"U8","shape":[],"data_offsets":[0,1]}}   ', 1));
    expect(padded.tensors).toEqual([{ name: 'x', dtype: 'U8', shape: [], begin: 0, end: 1 }]);
  });
});

describe('PyTorch fixtures', () => {
  it('reads final.safetensors: 6 F32 tensors, 2751 values, norms matching reference.json', () => {
    const file = fixture('final.safetensors');
    const headerLength = readHeaderLength(file.subarray(0, 8), file.length);
    const header = parseHeader(file.subarray(8, 8 + headerLength), headerLength, file.length);
    expect(header.metadata['format']).toBe('pt');
    expect(header.tensors.map((t) => [t.name, t.dtype, t.shape])).toEqual([
      ['fc1.weight', 'F32', [50, 2]],
      ['fc1.bias', 'F32', [50]],
      ['fc2.weight', 'F32', [50, 50]],
      ['fc2.bias', 'F32', [50]],
      ['fc3.weight', 'F32', [1, 50]],
      ['fc3.bias', 'F32', [1]],
    ]);
    expect(header.tensors.reduce((n, t) => n + headerTensorElementCount(t), 0)).toBe(2751);
    const finalFro: Record<string, number> = {
      'fc1.weight': 5.954794805316579,
      'fc1.bias': 3.258304499417086,
      'fc2.weight': 13.47917959435238,
      'fc2.bias': 0.7231497383796881,
      'fc3.weight': 3.760727052839746,
      'fc3.bias': 0.14092262089252472,
    };
    for (const t of header.tensors) {
      const values = decodeTensor(t, tensorBytes(file, header, t));
      expect(values).toBeInstanceOf(Float32Array);
      let sumSquares = 0;
      for (const v of values as Float32Array) sumSquares += v * v;
      expect(Math.sqrt(sumSquares)).toBeCloseTo(finalFro[t.name] as number, 10);
    }
  });

  it('reads test_set.safetensors: x F32 [5000, 2], y U8 [5000] with y_i = i mod 2', () => {
    const file = fixture('test_set.safetensors');
    const header = parseSafetensors(file);
    expect(header.tensors.map((t) => [t.name, t.dtype, t.shape])).toEqual([
      ['x', 'F32', [5000, 2]],
      ['y', 'U8', [5000]],
    ]);
    const [xInfo, yInfo] = header.tensors as [TensorInfo, TensorInfo];
    const x = decodeTensor(xInfo, tensorBytes(file, header, xInfo)) as Float32Array;
    expect(x).toBeInstanceOf(Float32Array);
    expect(x.length).toBe(10000);
    expect(x.every((v) => Number.isFinite(v) && Math.abs(v) < 2)).toBe(true);
    const y = decodeTensor(yInfo, tensorBytes(file, header, yInfo));
    expect(y).toBeInstanceOf(Uint8Array);
    expect(y.length).toBe(5000);
    expect(Array.from(y as Uint8Array).every((v, i) => v === i % 2)).toBe(true);
  });
});

describe('readHeaderLength rejects', () => {
  const prefix = (n: bigint): Uint8Array => {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setBigUint64(0, n, true);
    return b;
  };

  it('a file shorter than 8 bytes', () => {
    expectBad(
      () => readHeaderLength(new Uint8Array(5), 5),
      'object is 5 bytes, shorter than the 8-byte header length prefix',
    );
    expectBad(() => parseSafetensors(new Uint8Array(0)), 'object is 0 bytes');
  });

  it('a prefix shorter than 8 bytes', () => {
    expectBad(() => readHeaderLength(new Uint8Array(4), 100), 'header length prefix must be 8 bytes, got 4');
  });

  it('header length 0', () => {
    expectBad(() => readHeaderLength(prefix(0n), 100), 'header length is 0');
  });

  it('header length above the limit', () => {
    expectBad(
      () => readHeaderLength(prefix(2000n), 10_000, 1000),
      'header length 2000 bytes exceeds the limit of 1000 bytes',
    );
    expectBad(
      () => readHeaderLength(prefix(BigInt(DEFAULT_MAX_HEADER_BYTES + 1)), 2 ** 40),
      `exceeds the limit of ${DEFAULT_MAX_HEADER_BYTES} bytes`,
    );
  });

  it('header length past the end of the object', () => {
    expectBad(
      () => readHeaderLength(prefix(100n), 50),
      'header length 100 runs past the end of the object (8 + 100 > 50 bytes)',
    );
    expectBad(() => readHeaderLength(prefix(43n), 50), '8 + 43 > 50');
    expect(readHeaderLength(prefix(42n), 50)).toBe(42);
  });

  it('header length ≥ 2^53 (bytes 0xff…)', () => {
    expectBad(
      () => readHeaderLength(new Uint8Array(8).fill(0xff), 100),
      'header length 18446744073709551615 exceeds 2^53 - 1',
    );
    expectBad(() => readHeaderLength(prefix(2n ** 53n), 2 ** 52), 'header length 9007199254740992 exceeds 2^53 - 1');
  });

  it('a torch.save file (zip archive or legacy pickle), named as such and never unpickled', () => {
    // The first bytes torch.save writes: a zip local-file header, or pickle's PROTO opcode 0x80 with protocol 2.
    const zip = new Uint8Array([0x50, 0x4b, 0x03, 0x04, 0x00, 0x00, 0x08, 0x08]);
    expectBad(() => readHeaderLength(zip, 1_000_000), 'starts like a zip archive, as torch.save writes');
    expectBad(
      () => readHeaderLength(zip, 1_000_000),
      'safetensors.torch.save_file(model.state_dict(), "model.safetensors")',
    );
    const pickle = new Uint8Array([0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46]);
    expectBad(() => readHeaderLength(pickle, 1_000_000), 'starts like a Python pickle (protocol 2)');
  });

  it('an invalid object size', () => {
    expectBad(() => readHeaderLength(prefix(2n), -1), 'object size must be a non-negative integer, found -1');
  });

  it('reads the prefix at any byteOffset', () => {
    const host = new Uint8Array(20);
    host.set(prefix(7n), 3);
    expect(readHeaderLength(host.subarray(3, 11), 100)).toBe(7);
  });
});

describe('parseHeader rejects', () => {
  const ok = { dtype: 'F32', shape: [2], data_offsets: [0, 8] };

  it('invalid UTF-8', () => {
    expectBad(
      () => parse(fileWithHeaderBytes(new Uint8Array([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x3a, 0x31, 0x7d]))),
      'header is not valid UTF-8',
    );
    expectBad(() => parse(fileWithHeaderBytes(new Uint8Array([0x7b, 0x7d, 0xc3]))), 'not valid UTF-8'); // truncated sequence
  });

  it('invalid JSON', () => {
    expectBad(() => parse(rawFile('{"a": ')), 'header is not valid JSON');
    expectBad(() => parse(rawFile('{"a":1}\0\0\0')), 'header is not valid JSON');
    expectBad(() => parse(rawFile('\ufeff{}')), 'header is not valid JSON'); // BOM
  });

  it('a top level that is not an object', () => {
    expectBad(() => parse(rawFile('[1, 2]')), 'header must be a JSON object, found array [1,2]');
    expectBad(() => parse(rawFile('null')), 'header must be a JSON object, found null');
    expectBad(() => parse(rawFile('42')), 'header must be a JSON object, found 42');
    expectBad(() => parse(rawFile('"x"')), 'header must be a JSON object, found "x"');
  });

  it('__metadata__ that is not an object of strings', () => {
    expectBad(() => parseJson({ __metadata__: 'pt' }), '__metadata__ must be an object of strings, found "pt"');
    expectBad(() => parseJson({ __metadata__: ['a'] }), '__metadata__ must be an object of strings, found array ["a"]');
    expectBad(() => parseJson({ __metadata__: null }), '__metadata__ must be an object of strings, found null');
    expectBad(
      () => parseJson({ __metadata__: { format: 'pt', epoch: 5 } }),
      '__metadata__ "epoch" must be a string, found 5',
    );
  });

  it('a tensor entry that is not an object', () => {
    const error = expectBad(
      () => parseJson({ w: [0, 8] }),
      'tensor "w": entry must be an object with dtype, shape and data_offsets, found array [0,8]',
    );
    expect(error.tensor).toBe('w');
    expectBad(() => parseJson({ w: 'F32' }), 'tensor "w": entry must be an object');
  });

  it('missing dtype / shape / data_offsets', () => {
    expectBad(() => parseJson({ w: { shape: [2], data_offsets: [0, 8] } }, 8), 'tensor "w": missing "dtype"');
    expectBad(() => parseJson({ w: { dtype: 'F32', data_offsets: [0, 8] } }, 8), 'tensor "w": missing "shape"');
    expectBad(() => parseJson({ w: { dtype: 'F32', shape: [2] } }, 8), 'tensor "w": missing "data_offsets"');
  });

  it('an extra key', () => {
    expectBad(
      () => parseJson({ w: { ...ok, strides: [1] } }, 8),
      'tensor "w": unexpected key "strides" (expected only dtype, shape, data_offsets)',
    );
  });

  it('an unknown dtype, listing the known ones', () => {
    const error = expectBad(
      () => parseJson({ w: { ...ok, dtype: 'F8_E4M3' } }, 8),
      'tensor "w": unknown dtype "F8_E4M3"',
    );
    expect(error.message).toContain('expected one of F64, F32, F16, BF16, I64, I32, I16, I8, U64, U32, U16, U8, BOOL');
    expectBad(() => parseJson({ w: { ...ok, dtype: 'f32' } }, 8), 'unknown dtype "f32"');
    expectBad(() => parseJson({ w: { ...ok, dtype: 'toString' } }, 8), 'unknown dtype "toString"');
    expectBad(() => parseJson({ w: { ...ok, dtype: 4 } }, 8), 'unknown dtype 4');
  });

  it('a bad shape', () => {
    expectBad(() => parseJson({ w: { ...ok, shape: 2 } }, 8), 'tensor "w": shape must be an array, found 2');
    expectBad(() => parseJson({ w: { ...ok, shape: { 0: 2 } } }, 8), 'shape must be an array, found {"0":2}');
    expectBad(
      () => parseJson({ w: { ...ok, shape: [2, -1] } }, 8),
      'tensor "w": shape[1] must be a non-negative integer, found -1',
    );
    expectBad(() => parseJson({ w: { ...ok, shape: [2.5] } }, 8), 'shape[0] must be a non-negative integer, found 2.5');
    expectBad(
      () => parseJson({ w: { ...ok, shape: ['NaN'] } }, 8),
      'shape[0] must be a non-negative integer, found "NaN"',
    );
    expectBad(() => parseJson({ w: { ...ok, shape: ['2'] } }, 8), 'shape[0] must be a non-negative integer, found "2"');
    expectBad(
      () => parseJson({ w: { ...ok, shape: [null] } }, 8),
      'shape[0] must be a non-negative integer, found null',
    );
    expectBad(
      () => parseJson({ w: { ...ok, shape: [true] } }, 8),
      'shape[0] must be a non-negative integer, found true',
    );
    expectBad(() => parse(rawFile('{"w":{"dtype":"F32","shape":[1e400],"data_offsets":[0,8]}}', 8)), 'found Infinity');
    expectBad(
      () => parseJson({ w: { ...ok, shape: [2 ** 53] } }, 8),
      'shape[0] must be a non-negative integer, found 9007199254740992',
    );
  });

  it('a shape whose product overflows', () => {
    expectBad(
      () => parseJson({ w: { ...ok, shape: [2 ** 30, 2 ** 30, 2 ** 30] } }, 8),
      'tensor "w": shape [1073741824, 1073741824, 1073741824] has more than 2^53 - 1 elements',
    );
    expectBad(
      () => parseJson({ w: { ...ok, shape: [2 ** 26, 2 ** 26] } }, 8), // 2^52 elements × 4 bytes
      'tensor "w": shape [67108864, 67108864] × 4 bytes of F32 exceeds 2^53 - 1 bytes',
    );
    // a zero anywhere makes the product 0 even if the other dims would overflow
    const header = parseJson({ w: { dtype: 'F32', shape: [2 ** 40, 2 ** 40, 0], data_offsets: [0, 0] } });
    expect(headerTensorElementCount(header.tensors[0] as TensorInfo)).toBe(0);
  });

  it('bad data_offsets', () => {
    expectBad(
      () => parseJson({ w: { ...ok, data_offsets: [0] } }, 8),
      'tensor "w": data_offsets must be an array of 2 integers [begin, end], found array [0]',
    );
    expectBad(
      () => parseJson({ w: { ...ok, data_offsets: [0, 8, 16] } }, 16),
      'data_offsets must be an array of 2 integers',
    );
    expectBad(
      () => parseJson({ w: { ...ok, data_offsets: '0-8' } }, 8),
      'data_offsets must be an array of 2 integers [begin, end], found "0-8"',
    );
    expectBad(
      () => parseJson({ w: { ...ok, data_offsets: [-4, 4] } }, 8),
      'tensor "w": data_offsets[0] must be a non-negative integer, found -4',
    );
    expectBad(
      () => parseJson({ w: { ...ok, data_offsets: [0, 8.5] } }, 9),
      'data_offsets[1] must be a non-negative integer, found 8.5',
    );
    expectBad(
      () => parseJson({ w: { ...ok, data_offsets: [8, 0] } }, 8),
      'tensor "w": data_offsets [8, 0] have begin > end',
    );
  });

  it('a size mismatch', () => {
    expectBad(
      () => parseJson({ 'fc1.weight': { dtype: 'F32', shape: [10, 10], data_offsets: [0, 100] } }, 400),
      'safetensors: tensor "fc1.weight": data_offsets [0, 100] span 100 bytes, expected 400 (shape [10, 10] × 4 bytes of F32)',
    );
    expectBad(
      () => parseJson({ s: { dtype: 'I64', shape: [], data_offsets: [0, 0] } }, 8),
      'span 0 bytes, expected 8 (shape [] × 8 bytes of I64)',
    );
  });

  it('a tensor past the end of the data area', () => {
    expectBad(
      () => parseJson({ w: ok }, 7),
      'tensor "w": data_offsets [0, 8] run past the end of the data area (7 bytes)',
    );
    expectBad(
      () => parseJson({ z: { dtype: 'U8', shape: [0], data_offsets: [9, 9] } }, 8),
      'data_offsets [9, 9] run past the end of the data area (8 bytes)',
    );
  });

  it('overlapping tensors', () => {
    expectBad(
      () => parseJson({ b: f32('F32', [2], [4, 12]), a: f32('F32', [2], [0, 8]) }, 12),
      'tensors "a" [0, 8] and "b" [4, 12] overlap',
    );
    expectBad(
      () => parseJson({ a: f32('U8', [4], [0, 4]), b: f32('U8', [4], [0, 4]) }, 4),
      'tensors "a" [0, 4] and "b" [0, 4] overlap',
    );
  });

  it('an empty tensor name', () => {
    expectBad(() => parseJson({ '': ok }, 8), 'tensor name must not be empty');
  });

  it('duplicate keys that JSON.parse would silently drop', () => {
    const w = '{"dtype":"U8","shape":[1],"data_offsets":[0,1]}';
    expectBad(() => parse(rawFile(`{"w":${w},"w":${w}}`, 1)), 'duplicate tensor name "w"');
    expectBad(() => parse(rawFile(`{"\\u0077":${w},"w":${w}}`, 1)), 'duplicate tensor name "w"');
    expectBad(() => parse(rawFile(`{"__metadata__":{},"__metadata__":{}}`)), 'duplicate "__metadata__" entry');
    expectBad(() => parse(rawFile(`{"__metadata__":{"a":"1","a":"2"}}`)), '__metadata__ has duplicate key "a"');
    expectBad(
      () => parse(rawFile('{"w":{"dtype":"U8","dtype":"U8","shape":[1],"data_offsets":[0,1]}}', 1)),
      'tensor "w": duplicate key "dtype"',
    );
    // keys inside strings, escaped quotes and nested values are not mistaken for keys
    const tricky = parse(rawFile(`{"__metadata__":{"a":"\\"w\\":","b":"{\\"w\\"}"},"w":${w}}`, 1));
    expect(tricky.metadata).toEqual({ a: '"w":', b: '{"w"}' });
  });

  it('inconsistent arguments', () => {
    expectBad(() => parseHeader(new Uint8Array(4), 10, 100), 'got 4 header bytes, expected 10');
    expectBad(() => parseHeader(new Uint8Array(10), 10, 12), 'header length 10 runs past the end of the object');
    expectBad(() => parseHeader(new Uint8Array(10), 0, 100), 'header length must be a positive integer, found 0');
  });

  it('keeps a "__proto__" metadata key as data', () => {
    const header = parse(rawFile('{"__metadata__":{"__proto__":"x"}}'));
    expect(Object.getPrototypeOf(header.metadata)).toBe(Object.prototype);
    expect(Object.hasOwn(header.metadata, '__proto__')).toBe(true);
    expect(header.metadata['__proto__']).toBe('x');
  });
});

describe('decodeTensor rejects', () => {
  it('a wrong byte count', () => {
    const info: TensorInfo = { name: 'w', dtype: 'F32', shape: [2], begin: 0, end: 8 };
    expectBad(() => decodeTensor(info, new Uint8Array(7)), 'tensor "w": got 7 bytes, expected 8 (data_offsets [0, 8])');
    expectBad(() => decodeTensor(info, new Uint8Array(9)), 'got 9 bytes, expected 8');
  });

  it('a hand-built TensorInfo whose span does not match its shape', () => {
    const info: TensorInfo = { name: 'w', dtype: 'F32', shape: [3], begin: 0, end: 8 };
    expectBad(() => decodeTensor(info, new Uint8Array(8)), 'span 8 bytes, expected 12 (shape [3] × 4 bytes of F32)');
  });

  it('BOOL values other than 0/1', () => {
    const info: TensorInfo = { name: 'mask', dtype: 'BOOL', shape: [3], begin: 0, end: 3 };
    expectBad(
      () => decodeTensor(info, new Uint8Array([1, 0, 2])),
      'tensor "mask": BOOL element 2 is 2, expected 0 or 1',
    );
  });
});

describe('encodeSafetensors rejects', () => {
  const w = (over: Partial<TensorToWrite> = {}): TensorToWrite => ({
    name: 'w',
    dtype: 'F32',
    shape: [2],
    data: new Float32Array(2),
    ...over,
  });

  it('duplicate names', () => {
    expectBad(() => encodeSafetensors([w(), w()]), 'duplicate tensor name "w"');
  });

  it('empty or reserved names', () => {
    expectBad(() => encodeSafetensors([w({ name: '' })]), 'tensor name must be a non-empty string');
    expectBad(() => encodeSafetensors([w({ name: '__metadata__' })]), '"__metadata__" is reserved');
  });

  it('shape / data length mismatch', () => {
    expectBad(
      () => encodeSafetensors([w({ shape: [3] })]),
      'tensor "w": shape [3] has 3 elements, but the Float32Array has 2',
    );
    expectBad(
      () => encodeSafetensors([w({ dtype: 'F16', data: new Uint8Array(3) })]),
      'shape [2] × 2 bytes of F16 needs 4 bytes, but the raw data has 3',
    );
  });

  it('non-integer or negative shape values', () => {
    expectBad(() => encodeSafetensors([w({ shape: [NaN] })]), 'shape[0] must be a non-negative integer, found NaN');
    expectBad(() => encodeSafetensors([w({ shape: [Infinity] })]), 'found Infinity');
    expectBad(() => encodeSafetensors([w({ shape: [-2] })]), 'found -2');
    expectBad(() => encodeSafetensors([w({ shape: [2 ** 30, 2 ** 30, 2 ** 30] })]), 'has more than 2^53 - 1 elements');
  });

  it('a typed array that does not match the dtype', () => {
    expectBad(
      () => encodeSafetensors([w({ data: new Float64Array(2) })]),
      'tensor "w": dtype F32 is written from a Float32Array (or raw little-endian bytes in a Uint8Array), found Float64Array',
    );
    expectBad(
      () => encodeSafetensors([w({ dtype: 'I64', data: new Int32Array(2) })]),
      'dtype I64 is written from a BigInt64Array',
    );
    expectBad(
      () => encodeSafetensors([w({ dtype: 'BF16', data: new Float32Array(2) })]),
      'dtype BF16 is written from a Uint16Array',
    );
  });

  it('an unknown dtype, BOOL values other than 0/1 and non-string metadata', () => {
    expectBad(() => encodeSafetensors([w({ dtype: 'F8' as Dtype })]), 'unknown dtype "F8"');
    expectBad(
      () => encodeSafetensors([w({ dtype: 'BOOL', data: new Uint8Array([0, 3]) })]),
      'BOOL element 1 is 3, expected 0 or 1',
    );
    expectBad(
      () => encodeSafetensors([w()], { epoch: 5 } as unknown as Record<string, string>),
      '__metadata__ "epoch" must be a string, found 5',
    );
  });
});

describe('NUL in names and metadata', () => {
  const tensor = (name: string): TensorToWrite => ({ name, dtype: 'F32', shape: [1], data: new Float32Array([1]) });

  it('refuses a tensor name or metadata holding U+0000, which Postgres cannot store', () => {
    expect(() => parseSafetensors(encodeSafetensors([tensor('fc.\u0000weight')]))).toThrowError(
      /tensor name "fc.\\u0000weight" contains the NUL character \(U\+0000\)/,
    );
    for (const metadata of [{ 'form\u0000at': 'pt' }, { format: 'p\u0000t' }] as Array<Record<string, string>>) {
      const file = encodeSafetensors([tensor('fc.weight')], metadata);
      expect(() => parseSafetensors(file)).toThrowError(SafetensorsFormatError);
      expect(() => parseSafetensors(file)).toThrowError('contains the NUL character (U+0000)');
    }
    expect(parseSafetensors(encodeSafetensors([tensor('fc.weight')], { format: 'pt' })).tensors).toHaveLength(1);
  });
});

/**
 * Property/fuzz tests for every parser of untrusted bytes: safetensors (codec and the ByteSource layer that
 * registration and loading use), CIFAR-10 binary and MNIST IDX. Each generated input must end either in a
 * result that an independent re-derivation from the bytes agrees with, or in the parser's coded error
 * (BAD_SAFETENSORS / BAD_DATASET, and BAD_USER_INPUT at the ByteSource layer) with a short message: never a
 * TypeError/RangeError/SyntaxError, never a read or allocation sized by a field that was not checked.
 *
 * Generated inputs per parser family (≥ 1 000 each): safetensors 4 500, CIFAR-10 1 300, IDX 2 300; the file
 * runs in a few seconds.
 * A failure prints fast-check's seed and path; replay with `fc.assert(..., { seed, path })`, or the whole file with
 * `LINPATH_FUZZ_SEED=<seed>`.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LinpathError } from '../../src/errors.js';
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
  type IdxHeader,
  type IdxKind,
} from '../../src/formats/dataset-formats.js';
import { decodeTensor } from '../../src/formats/safetensors.decode.js';
import { encodeSafetensors } from '../../src/formats/safetensors.encode.js';
import {
  DTYPES,
  SafetensorsFormatError,
  type Dtype,
  type SafetensorsHeader,
  type TensorToWrite,
} from '../../src/formats/safetensors.format.js';
import { parseSafetensors, tensorBytes } from '../../src/formats/safetensors.header.js';
import { readSafetensorsHeader, readTensor, type ByteSource } from '../../src/storage/safetensors.source.js';
import { seedFuzzFromEnvironment } from '../helpers/fuzz.js';

seedFuzzFromEnvironment();

/** Small on purpose (the limit itself is one of the fields under test), yet room for DEEP. */
const MAX_HEADER = 1024 * 1024;
/** A coded error's message must stay readable whatever the input (names and shapes are cut). */
const MAX_MESSAGE = 1000;
const DTYPE_NAMES = Object.keys(DTYPES) as Dtype[];
const TIMEOUT = 30_000;

// ------------------------------------------------------------------------------------------- helpers

/** Deterministic bytes for data areas (mulberry32): cheaper than generating kilobytes through fast-check. */
function pseudoRandomBytes(length: number, seed: number, bits: 'bool' | 'any'): Uint8Array {
  const out = new Uint8Array(length);
  let a = seed >>> 0;
  for (let i = 0; i < length; i++) {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    const byte = (t ^ (t >>> 14)) & 0xff;
    out[i] = bits === 'bool' ? byte & 1 : byte;
  }
  return out;
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}

function u64le(value: bigint): Uint8Array {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, BigInt.asUintN(64, value), true);
  return out;
}

const product = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

/** Rethrows anything that is not the codec's coded error (so fast-check reports it), and checks the message. */
function expectSafetensorsError(error: unknown): void {
  if (!(error instanceof SafetensorsFormatError)) throw error;
  expect(error.code).toBe('BAD_SAFETENSORS');
  expect(error.message.startsWith('safetensors: ')).toBe(true);
  expect(error.message.length).toBeGreaterThan('safetensors: '.length);
  expect(error.message.length).toBeLessThan(MAX_MESSAGE);
}

function expectDatasetError(error: unknown): void {
  if (!(error instanceof DatasetFormatError)) throw error;
  expect(error.code).toBe('BAD_DATASET');
  expect(error.message.length).toBeGreaterThan(0);
  expect(error.message.length).toBeLessThan(MAX_MESSAGE);
}

/** The parsed header, or undefined after checking the error is coded. */
function parseOrCoded(file: Uint8Array): SafetensorsHeader | undefined {
  try {
    return parseSafetensors(file, MAX_HEADER);
  } catch (error) {
    expectSafetensorsError(error);
    return undefined;
  }
}

/**
 * Re-derives an accepted header from the bytes without the codec: prefix, UTF-8 JSON object, one tensor
 * per non-metadata key with the same dtype/shape/offsets, sizes that match, ranges inside the data area
 * and not overlapping, metadata of strings. Then every tensor decodes (BOOL may still be refused).
 */
function expectConsistent(file: Uint8Array, header: SafetensorsHeader): void {
  const headerLength = Number(new DataView(file.buffer, file.byteOffset, 8).getBigUint64(0, true));
  expect(header.headerLength).toBe(headerLength);
  expect(header.dataStart).toBe(8 + headerLength);
  expect(header.dataLength).toBe(file.length - 8 - headerLength);
  expect(header.dataLength).toBeGreaterThanOrEqual(0);
  expect(headerLength).toBeLessThanOrEqual(MAX_HEADER);

  const json = JSON.parse(
    new TextDecoder('utf-8', { fatal: true }).decode(file.subarray(8, 8 + headerLength)),
  ) as Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;
  expect(typeof json === 'object' && json !== null && !Array.isArray(json)).toBe(true);
  const names = Object.keys(json).filter((k) => k !== '__metadata__');
  expect(header.tensors.map((t) => t.name).sort()).toEqual([...names].sort());
  const metadata = (json['__metadata__'] ?? {}) as unknown as Record<string, unknown>;
  expect(header.metadata).toEqual(metadata);
  for (const value of Object.values(header.metadata)) expect(typeof value).toBe('string');

  for (const t of header.tensors) {
    const entry = json[t.name]!;
    expect(Object.keys(entry).sort()).toEqual(['data_offsets', 'dtype', 'shape']);
    expect(t.dtype).toBe(entry.dtype);
    expect(Object.hasOwn(DTYPES, t.dtype)).toBe(true);
    expect(t.shape).toEqual(entry.shape.map((d) => d + 0)); // JSON "-0" is 0
    for (const d of t.shape) expect(Number.isSafeInteger(d) && d >= 0).toBe(true);
    expect([t.begin, t.end]).toEqual(entry.data_offsets.map((o) => o + 0));
    expect(t.end - t.begin).toBe(product(t.shape) * DTYPES[t.dtype]);
    expect(0 <= t.begin && t.begin <= t.end && t.end <= header.dataLength).toBe(true);
  }
  const occupied = header.tensors.filter((t) => t.end > t.begin);
  for (const a of occupied) {
    for (const b of occupied) if (a !== b) expect(a.end <= b.begin || b.end <= a.begin).toBe(true);
  }

  for (const t of header.tensors) {
    try {
      const values = decodeTensor(t, tensorBytes(file, header, t));
      expect(values.length).toBe(product(t.shape));
    } catch (error) {
      expectSafetensorsError(error);
      expect(t.dtype).toBe('BOOL');
    }
  }
}

function checkSafetensors(file: Uint8Array, mustReject = false): void {
  const header = parseOrCoded(file);
  if (header === undefined) return;
  if (mustReject) throw new Error(`accepted a file that must be refused: ${JSON.stringify(header).slice(0, 300)}`);
  expectConsistent(file, header);
}

// ------------------------------------------------------------------------- safetensors: generators

/** Valid JSON nested 100 000 deep: JSON.parse reads it iteratively, recursive code on the result overflows. */
const DEEP = `${'['.repeat(100_000)}${']'.repeat(100_000)}`;

/** JSON literals that are never a valid shape dimension. `-0` is valid (it is 0) and so not here. */
const badDimLiteral = fc.oneof(
  fc.integer({ min: -1000, max: -1 }).map(String),
  fc.constantFrom(
    '1.5',
    '0.1',
    '-1e3',
    '1e400',
    '-1e400',
    '9007199254740992',
    '18446744073709551616',
    '"3"',
    'null',
    'true',
    '[]',
    '[2]',
    '{}',
    DEEP,
  ),
  fc.bigInt({ min: 2n ** 53n, max: 2n ** 80n }).map(String),
);
/** JSON literals that are never a valid dtype. */
const badDtypeLiteral = fc.oneof(
  fc.constantFrom(
    '"f32"',
    '"F8"',
    '"FLOAT"',
    '""',
    '"F32 "',
    '"__proto__"',
    '"toString"',
    '"constructor"',
    'null',
    '4',
    '["F32"]',
    '{}',
    DEEP,
  ),
  fc
    .string({ maxLength: 6 })
    .filter((s) => !Object.hasOwn(DTYPES, s))
    .map((s) => JSON.stringify(s)),
);
const nameArb = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.constantFrom(
      'a',
      'b',
      'fc.weight',
      'fc.bias',
      '0',
      '10',
      '__proto__',
      'toString',
      'w"x',
      'é',
      '\u2028',
    ),
  },
  { weight: 3, arbitrary: fc.string({ minLength: 1, maxLength: 5, unit: 'binary' }) },
  { weight: 1, arbitrary: fc.constantFrom('__metadata__', '') },
);

type Defect =
  | 'none'
  | 'dtype'
  | 'dim'
  | 'bigShape'
  | 'span'
  | 'swap'
  | 'pastEnd'
  | 'offsetsArity'
  | 'offsetsType'
  | 'extraKey'
  | 'missingKey'
  | 'overlap'
  | 'shift'
  | 'garbage';

const tensorPlanArb = fc.record({
  name: nameArb,
  escapeName: fc.boolean(),
  dtype: fc.constantFrom(...DTYPE_NAMES),
  shape: fc.array(fc.integer({ min: 0, max: 4 }), { maxLength: 3 }),
  defect: fc.oneof(
    { weight: 30, arbitrary: fc.constant<Defect>('none') },
    {
      weight: 10,
      arbitrary: fc.constantFrom<Defect>(
        'dtype',
        'dim',
        'bigShape',
        'span',
        'swap',
        'pastEnd',
        'offsetsArity',
        'offsetsType',
        'extraKey',
        'missingKey',
        'overlap',
        'shift',
        'garbage',
      ),
    },
  ),
  badDtype: badDtypeLiteral,
  badDim: badDimLiteral,
  dimAt: fc.nat(),
  delta: fc.integer({ min: -9, max: 9 }).filter((d) => d !== 0),
  missing: fc.constantFrom('dtype', 'shape', 'data_offsets'),
  garbage: fc.oneof(fc.json({ maxDepth: 3 }), fc.constantFrom('[]', '"F32"', 'null', '{"dtype":"F32"}', DEEP)),
});

const metadataArb = fc.oneof(
  { weight: 3, arbitrary: fc.constant({ text: undefined, mustReject: false }) },
  {
    weight: 3,
    arbitrary: fc
      .array(
        fc.tuple(
          fc.oneof(fc.constantFrom('k', 'k', '__proto__', ''), fc.string({ maxLength: 4 })),
          fc.string({ maxLength: 6 }),
        ),
        { maxLength: 3 },
      )
      .map((pairs) => ({
        text: `{${pairs.map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`).join(',')}}`,
        mustReject: new Set(pairs.map(([k]) => k)).size !== pairs.length,
      })),
  },
  {
    weight: 1,
    arbitrary: fc
      .constantFrom(
        '{"k":1}',
        '{"k":null}',
        '{"k":["v"]}',
        '{"k":{"x":"y"}}',
        '["k","v"]',
        '"k=v"',
        'null',
        '3',
        '{"k":"v","k":"w"}',
        DEEP,
        `{"k":${DEEP}}`,
      )
      .map((text) => ({ text, mustReject: true })),
  },
);

const topDefectArb = fc.oneof(
  { weight: 12, arbitrary: fc.constant({ kind: 'none' as const, at: 0 }) },
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constantFrom('array' as const, 'truncate' as const, 'badUtf8' as const, 'bom' as const, 'nul' as const),
      at: fc.nat(),
    }),
  },
);
const prefixDefectArb = fc.oneof(
  { weight: 20, arbitrary: fc.constant({ kind: 'exact' as const, value: 0n }) },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constantFrom('huge' as const),
      value: fc.oneof(
        fc.constantFrom(2n ** 50n, 2n ** 53n, 2n ** 63n, 2n ** 64n - 1n, BigInt(MAX_HEADER) + 1n),
        fc.bigInt({ min: 2n ** 32n, max: 2n ** 64n - 1n }),
      ),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constantFrom('zero' as const, 'pastEnd' as const, 'shorter' as const),
      value: fc.bigInt({ min: 1n, max: 16n }),
    }),
  },
);

const structuredFileArb = fc.record({
  tensors: fc.array(tensorPlanArb, { maxLength: 4 }),
  metadata: metadataArb,
  metadataLast: fc.boolean(),
  padding: fc.constantFrom('', ' ', '       ', '\n', '\t ', '\r\n'),
  extraData: fc.integer({ min: 0, max: 8 }),
  seed: fc.nat(),
  boolData: fc.boolean(),
  top: topDefectArb,
  prefix: prefixDefectArb,
});

/** Every UTF-16 unit as \uXXXX: the same key to JSON.parse, different text for the duplicate scanner. */
const escapeUnits = (name: string): string =>
  `"${Array.from({ length: name.length }, (_, i) => `\\u${name.charCodeAt(i).toString(16).padStart(4, '0')}`).join('')}"`;

/**
 * Builds a file from a plan: tensors laid out back to back, each with at most one defect. `mustReject` is
 * true when some defect is one no valid file can have; other defects (shifted offsets, a shorter length
 * prefix) may or may not leave a valid file, and then the oracle decides.
 */
type StructuredPlan = typeof structuredFileArb extends fc.Arbitrary<infer T> ? T : never;

function buildStructured(plan: StructuredPlan): { file: Uint8Array; mustReject: boolean } {
  let mustReject = plan.metadata.mustReject;
  const entries: string[] = [];
  let cursor = 0;
  const laidOut = plan.tensors.map((t) => {
    const bytes = product(t.shape) * DTYPES[t.dtype];
    const begin = cursor;
    cursor += bytes;
    return { ...t, begin, end: cursor, bytes };
  });
  const dataLength = cursor + plan.extraData;
  let previousOccupied: (typeof laidOut)[number] | undefined;
  let pastEndAt = -1;
  const names: string[] = [];
  for (const t of laidOut) {
    names.push(t.name);
    // Garbage that is an object may be a valid entry after all, and under the name __metadata__ any object of
    // strings (even {}) is valid metadata rather than a tensor: the oracle judges those.
    const garbageObject = t.defect === 'garbage' && t.garbage.trim().startsWith('{');
    if (t.name === '' || (t.name === '__metadata__' && !garbageObject)) mustReject = true;
    let dtype = JSON.stringify(t.dtype);
    let dims = t.shape.map(String);
    let offsets = `[${t.begin},${t.end}]`;
    let extra = '';
    let drop: string | undefined;
    switch (t.defect) {
      case 'none':
        break;
      case 'dtype':
        dtype = t.badDtype;
        mustReject = true;
        break;
      case 'dim':
        dims.splice(t.dimAt % (dims.length + 1), 0, t.badDim);
        mustReject = true;
        break;
      case 'bigShape':
        dims = ['1099511627776', '1099511627776', ...dims.filter((d) => d !== '0')];
        mustReject = true;
        break;
      case 'span':
        offsets = `[${t.begin},${t.end + t.delta}]`;
        mustReject = true;
        break;
      case 'swap':
        offsets = `[${t.end},${t.begin}]`;
        if (t.bytes > 0) mustReject = true;
        break;
      case 'pastEnd':
        // Past the planned data area; a shorter length prefix below may move header bytes into it, so whether
        // this is still past the end is decided once the data area's final size is known.
        offsets = `[${t.begin + dataLength + 1},${t.end + dataLength + 1}]`;
        pastEndAt = Math.max(pastEndAt, t.end + dataLength + 1);
        break;
      case 'offsetsArity':
        offsets = t.delta > 0 ? `[${t.begin}]` : `[${t.begin},${t.end},${t.end}]`;
        mustReject = true;
        break;
      case 'offsetsType':
        offsets = t.delta > 0 ? `["${t.begin}",${t.end}]` : `[${t.begin + 0.5},${t.end + 0.5}]`;
        mustReject = true;
        break;
      case 'extraKey':
        extra = ',"offset":0';
        mustReject = true;
        break;
      case 'missingKey':
        drop = t.missing;
        mustReject = true;
        break;
      case 'overlap':
        if (previousOccupied !== undefined) {
          offsets = `[${previousOccupied.begin},${previousOccupied.begin + t.bytes}]`;
          if (t.bytes > 0) mustReject = true;
        }
        break;
      case 'shift':
        offsets = `[${t.begin + t.delta},${t.end + t.delta}]`;
        break;
      case 'garbage':
        if (garbageObject && (t.garbage.trim() !== '{}' || t.name === '__metadata__')) break;
        mustReject = true;
        break;
    }
    // Only an unchanged tensor is where the plan says: a shifted one may no longer overlap the next.
    if (t.bytes > 0 && t.defect === 'none') previousOccupied = t;
    const fields = [`"dtype":${dtype}`, `"shape":[${dims.join(',')}]`, `"data_offsets":${offsets}`].filter(
      (f) => drop === undefined || !f.startsWith(`"${drop}"`),
    );
    const value = t.defect === 'garbage' ? t.garbage : `{${fields.join(',')}${extra}}`;
    const key = t.escapeName ? escapeUnits(t.name) : JSON.stringify(t.name);
    entries.push(`${key}:${value}`);
  }
  if (new Set(names).size !== names.length) mustReject = true;
  if (plan.metadata.text !== undefined) {
    const entry = `"__metadata__":${plan.metadata.text}`;
    if (plan.metadataLast) entries.push(entry);
    else entries.unshift(entry);
    if (names.includes('__metadata__')) mustReject = true;
  }

  let json = `{${entries.join(',')}}`;
  let jsonBytes: Uint8Array;
  // A shorter length prefix may cut a defect at the end of the header off again (it becomes data).
  const trailingMayBeCut = plan.prefix.kind === 'shorter';
  switch (plan.top.kind) {
    case 'none':
      jsonBytes = new TextEncoder().encode(json + plan.padding);
      break;
    case 'array':
      jsonBytes = new TextEncoder().encode(`[${json}]${plan.padding}`);
      mustReject = true;
      break;
    case 'truncate':
      json = json.slice(0, plan.top.at % json.length); // an object text cut before its closing brace is never JSON
      jsonBytes = new TextEncoder().encode(json + plan.padding);
      mustReject = true;
      break;
    case 'badUtf8': {
      const text = new TextEncoder().encode(json + plan.padding);
      const at = plan.top.at % (text.length + 1);
      jsonBytes = concat(text.subarray(0, at), new Uint8Array([0xff]), text.subarray(at));
      if (!trailingMayBeCut) mustReject = true;
      break;
    }
    case 'bom':
      jsonBytes = concat(new Uint8Array([0xef, 0xbb, 0xbf]), new TextEncoder().encode(json + plan.padding));
      mustReject = true;
      break;
    case 'nul':
      jsonBytes = new TextEncoder().encode(`${json}${plan.padding}\0`);
      if (!trailingMayBeCut) mustReject = true;
      break;
  }

  const data = pseudoRandomBytes(dataLength, plan.seed, plan.boolData ? 'bool' : 'any');
  let length = BigInt(jsonBytes.length);
  const total = 8 + jsonBytes.length + dataLength;
  switch (plan.prefix.kind) {
    case 'exact':
      break;
    case 'huge':
      length = plan.prefix.value;
      mustReject = true;
      break;
    case 'zero':
      length = 0n;
      mustReject = true;
      break;
    case 'pastEnd':
      length = BigInt(total - 8) + plan.prefix.value;
      mustReject = true;
      break;
    case 'shorter':
      length = length > plan.prefix.value ? length - plan.prefix.value : 1n;
      break;
  }
  if (pastEndAt > total - 8 - Number(length)) mustReject = true;
  return { file: concat(u64le(length), jsonBytes, data), mustReject };
}

/** Valid tensors for the project's own writer: unique names, raw little-endian bytes (BOOL 0/1). */
const validTensorsArb = fc
  .uniqueArray(
    fc.record({
      name: fc.oneof(
        fc.constantFrom('x', 'y', 'fc.weight', 'fc.bias', '0', '__proto__'),
        fc.string({ minLength: 1, maxLength: 6 }),
      ),
      dtype: fc.constantFrom(...DTYPE_NAMES),
      shape: fc.array(fc.integer({ min: 0, max: 5 }), { maxLength: 3 }),
      seed: fc.nat(),
    }),
    { selector: (t) => t.name, maxLength: 5 },
  )
  .map((ts) =>
    ts
      .filter((t) => t.name !== '__metadata__')
      .map((t): TensorToWrite => ({
        name: t.name,
        dtype: t.dtype,
        shape: t.shape,
        data: pseudoRandomBytes(product(t.shape) * DTYPES[t.dtype], t.seed, t.dtype === 'BOOL' ? 'bool' : 'any'),
      })),
  );
const validMetadataArb = fc.option(
  fc.dictionary(fc.string({ maxLength: 5 }), fc.string({ maxLength: 8 }), { maxKeys: 3 }),
  { nil: undefined },
);

type Mutation =
  | { kind: 'flip'; at: number; bit: number; inHeader: boolean }
  | { kind: 'set'; at: number; value: number; inHeader: boolean }
  | { kind: 'truncate'; at: number }
  | { kind: 'insert'; at: number; value: number }
  | { kind: 'delete'; at: number };

const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('flip' as const),
      at: fc.nat(),
      bit: fc.integer({ min: 0, max: 7 }),
      inHeader: fc.boolean(),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('set' as const),
      at: fc.nat(),
      value: fc.integer({ min: 0, max: 255 }),
      inHeader: fc.boolean(),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }) },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('insert' as const),
      at: fc.nat(),
      value: fc.integer({ min: 0, max: 255 }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('delete' as const), at: fc.nat() }) },
);

/** Applies mutations; `inHeader` aims a flip or write at the prefix and JSON, where the parser is. */
function mutate(file: Uint8Array, mutations: readonly Mutation[]): Uint8Array {
  let out: Uint8Array = file.slice();
  for (const m of mutations) {
    if (out.length === 0) break;
    const headerEnd = Math.min(
      out.length,
      8 + Number(new DataView(file.buffer, file.byteOffset, 8).getBigUint64(0, true)),
    );
    switch (m.kind) {
      case 'flip':
      case 'set': {
        const at = m.at % (m.inHeader ? headerEnd : out.length);
        out[at] = m.kind === 'flip' ? out[at]! ^ (1 << m.bit) : m.value;
        break;
      }
      case 'truncate':
        out = out.slice(0, m.at % out.length);
        break;
      case 'insert': {
        const at = m.at % (out.length + 1);
        out = concat(out.subarray(0, at), new Uint8Array([m.value]), out.subarray(at));
        break;
      }
      case 'delete': {
        const at = m.at % out.length;
        out = concat(out.subarray(0, at), out.subarray(at + 1));
        break;
      }
    }
  }
  return out;
}

// ----------------------------------------------------------------------------------- safetensors

describe('safetensors codec under fuzzing', { timeout: TIMEOUT }, () => {
  it('arbitrary bytes end in a coded error or a consistent header (1000 runs)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (file) => checkSafetensors(file)),
      { numRuns: 1000 },
    );
  });

  it('arbitrary bytes after an arbitrary 64-bit length prefix (500 runs)', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), fc.uint8Array({ maxLength: 200 }), (length, rest) => {
        const file = concat(u64le(length), rest);
        const header = parseOrCoded(file);
        if (header !== undefined) expectConsistent(file, header);
        else if (length > BigInt(rest.length)) {
          // A length the file cannot hold is refused by the prefix check itself, before any JSON is decoded.
          expect(() => parseSafetensors(file, MAX_HEADER)).toThrow(/header length/);
        }
      }),
      { numRuns: 500 },
    );
  });

  it('structurally plausible files with malformed fields: refused when no valid file looks like that (1500 runs)', () => {
    fc.assert(
      fc.property(structuredFileArb, (plan) => {
        const { file, mustReject } = buildStructured(plan);
        checkSafetensors(file, mustReject);
      }),
      { numRuns: 1500 },
    );
  });

  it('bit flips, writes, insertions and truncations of files from our own writer (1000 runs)', () => {
    fc.assert(
      fc.property(
        validTensorsArb,
        validMetadataArb,
        fc.array(mutationArb, { maxLength: 3 }),
        (tensors, metadata, mutations) => {
          const original = encodeSafetensors(tensors, metadata);
          if (mutations.length === 0) {
            // Unmutated: the round trip must give back exactly what was written.
            const header = parseSafetensors(original, MAX_HEADER);
            expectConsistent(original, header);
            expect(header.metadata).toEqual(metadata ?? {});
            const byName = new Map(header.tensors.map((t) => [t.name, t]));
            for (const t of tensors) {
              const info = byName.get(t.name)!;
              expect([info.dtype, info.shape]).toEqual([t.dtype, t.shape]);
              expect(tensorBytes(original, header, info)).toEqual(t.data);
            }
            return;
          }
          checkSafetensors(mutate(original, mutations));
        },
      ),
      { numRuns: 1000 },
    );
  });

  it('refuses sizes from the header before anything is allocated from them, naming the field', () => {
    const raw = (text: string, dataLength = 0) => {
      const json = new TextEncoder().encode(text);
      return concat(u64le(BigInt(json.length)), json, new Uint8Array(dataLength));
    };
    const refused = (file: Uint8Array, fragment: string) => {
      let caught: unknown;
      try {
        parseSafetensors(file, MAX_HEADER);
      } catch (error) {
        caught = error;
      }
      expectSafetensorsError(caught);
      expect((caught as Error).message).toContain(fragment);
    };
    refused(
      concat(u64le(2n ** 50n), new Uint8Array(16)),
      'header length 1125899906842624 bytes exceeds the limit of 1048576 bytes',
    );
    refused(concat(u64le(2n ** 64n - 1n), new Uint8Array(16)), 'header length 18446744073709551615 exceeds 2^53 - 1');
    refused(
      raw('{"w":{"dtype":"F32","shape":[1099511627776],"data_offsets":[0,4398046511104]}}', 8),
      'run past the end of the data area (8 bytes)',
    );
    refused(
      raw('{"w":{"dtype":"F32","shape":[1099511627776,1099511627776],"data_offsets":[0,4]}}'),
      'has more than 2^53 - 1 elements',
    );
    refused(
      raw('{"fc.weight":{"dtype":"F32","shape":[2,3],"data_offsets":[0,99]}}', 99),
      'tensor "fc.weight": data_offsets [0, 99] span 99 bytes, expected 24 (shape [2, 3] × 4 bytes of F32)',
    );
  });

  it('refuses deeply nested JSON with a coded error (it used to overflow the stack while describing the value)', () => {
    const deep = (n: number) => `${'['.repeat(n)}${']'.repeat(n)}`;
    const raw = (text: string) => {
      const json = new TextEncoder().encode(text);
      return concat(u64le(BigInt(json.length)), json);
    };
    const cases: [string, string][] = [
      [deep(200_000), 'header must be a JSON object, found array [[[['],
      [`{"w":${deep(200_000)}}`, 'tensor "w": entry must be an object'],
      [`{"__metadata__":${deep(200_000)}}`, '__metadata__ must be an object of strings, found array [[['],
      [`{"__metadata__":{"k":${deep(200_000)}}}`, '__metadata__ "k" must be a string'],
      [`{"w":{"dtype":${deep(200_000)},"shape":[],"data_offsets":[0,4]}}`, 'unknown dtype array [[[['],
      [
        `{"w":{"dtype":"F32","shape":[${deep(200_000)}],"data_offsets":[0,4]}}`,
        'shape[0] must be a non-negative integer, found array [[[',
      ],
    ];
    for (const [text, fragment] of cases) {
      let caught: unknown;
      try {
        parseSafetensors(raw(text), 1024 * 1024);
      } catch (error) {
        caught = error;
      }
      expectSafetensorsError(caught);
      expect((caught as Error).message).toContain(fragment);
    }
  });

  it('keeps messages short for megabyte names and million-dimension shapes', () => {
    const name = 'n'.repeat(1_000_000);
    const shape = Array.from({ length: 1_000_000 }, () => 1);
    const text = `{${JSON.stringify(name)}:{"dtype":"F32","shape":[${shape.join(',')}],"data_offsets":[0,8]}}`;
    const json = new TextEncoder().encode(text);
    let caught: unknown;
    try {
      parseSafetensors(concat(u64le(BigInt(json.length)), json, new Uint8Array(8)), 16 * 1024 * 1024);
    } catch (error) {
      caught = error;
    }
    expectSafetensorsError(caught);
    const error = caught as SafetensorsFormatError;
    expect(error.tensor).toBe(name);
    expect(error.message).toContain('... (1000000 characters)');
    expect(error.message).toContain('... (1000000 dimensions)] × 4 bytes of F32)');
  });

  it('decodeTensor refuses a stored TensorInfo with negative dimensions instead of reading it as their product', () => {
    expect(() =>
      decodeTensor({ name: 'w', dtype: 'F32', shape: [-2, -2], begin: 0, end: 16 }, new Uint8Array(16)),
    ).toThrow(
      expect.objectContaining({
        code: 'BAD_SAFETENSORS',
        message: expect.stringContaining('shape[0] must be a non-negative integer, found -2'),
      }),
    );
  });
});

// ---------------------------------------------------------------------- safetensors: ByteSource

/**
 * An object of `size` bytes whose first `bytes.length` are given (the rest read as zeros, like a huge S3
 * object we only pretend to hold). Every read must lie inside the object and be at most `maxRead` long:
 * a longer one is an allocation sized by a field nobody checked.
 */
function recordingSource(bytes: Uint8Array, size: number, maxRead: number): ByteSource & { reads: [number, number][] } {
  const reads: [number, number][] = [];
  return {
    name: 's3://fuzz/dataset.safetensors',
    size,
    reads,
    read(start, end) {
      reads.push([start, end]);
      if (!(Number.isSafeInteger(start) && Number.isSafeInteger(end) && start >= 0 && start <= end && end <= size)) {
        throw new Error(`read [${start}, ${end}) outside an object of ${size} bytes`);
      }
      if (end - start > maxRead) throw new Error(`read of ${end - start} bytes, more than the ${maxRead} allowed`);
      const out = new Uint8Array(end - start);
      if (start < bytes.length) out.set(bytes.subarray(start, Math.min(end, bytes.length)));
      return Promise.resolve(out);
    },
  };
}

async function expectUserInput(promise: Promise<unknown>): Promise<boolean> {
  try {
    await promise;
    return true;
  } catch (error) {
    if (!(error instanceof LinpathError)) throw error;
    expect(error.code).toBe('BAD_USER_INPUT');
    expect(
      error.message.startsWith('s3://fuzz/dataset.safetensors is not a valid safetensors file: safetensors: '),
    ).toBe(true);
    expect(error.message.length).toBeLessThan(MAX_MESSAGE + 100);
    expect(error.cause).toBeInstanceOf(SafetensorsFormatError);
    return false;
  }
}

/** Dataset-shaped files, as registration and the loader read them: x [N, ...] and y [N]. */
const datasetFileArb = fc
  .record({
    n: fc.integer({ min: 1, max: 6 }),
    example: fc.constantFrom([2], [1, 2, 2], [2, 2, 1]),
    xDtype: fc.constantFrom<Dtype>('F32', 'U8', 'F16', 'F64'),
    yDtype: fc.constantFrom<Dtype>('U8', 'I64', 'I32', 'F32', 'BOOL'),
    seed: fc.nat(),
  })
  .map(({ n, example, xDtype, yDtype, seed }) =>
    encodeSafetensors(
      [
        {
          name: 'x',
          dtype: xDtype,
          shape: [n, ...example],
          data: pseudoRandomBytes(n * product(example) * DTYPES[xDtype], seed, 'any'),
        },
        { name: 'y', dtype: yDtype, shape: [n], data: pseudoRandomBytes(n * DTYPES[yDtype], seed + 1, 'bool') },
      ],
      { format: 'pt' },
    ),
  );

describe('safetensors datasets through the ByteSource layer under fuzzing', { timeout: TIMEOUT }, () => {
  it('mutated dataset files: BAD_USER_INPUT naming the file, reads bounded by the checked header (500 runs)', async () => {
    await fc.assert(
      fc.asyncProperty(
        datasetFileArb,
        fc.array(mutationArb, { maxLength: 3 }),
        fc.boolean(),
        async (original, mutations, pretendHuge) => {
          const file = mutate(original, mutations);
          // A pretended 2^50-byte object: the header may then claim anything up to that; reads must stay small.
          const size = pretendHuge ? 2 ** 50 : file.length;
          const source = recordingSource(file, size, MAX_HEADER);
          let header: SafetensorsHeader | undefined;
          if (await expectUserInput(readSafetensorsHeader(source, MAX_HEADER).then((h) => (header = h)))) {
            if (!pretendHuge) expectConsistent(file, header!);
            // Two reads: the 8-byte prefix, then exactly the header the prefix announced (≤ the limit).
            expect(source.reads.length).toBe(2);
            expect(source.reads[1]).toEqual([8, 8 + header!.headerLength]);
          }
          expect(source.reads[0]).toEqual([0, Math.min(8, size)]);
          if (header === undefined || pretendHuge) return;
          for (const t of header.tensors) {
            const before = source.reads.length;
            if (await expectUserInput(readTensor(source, header, t))) {
              expect(source.reads[before]).toEqual([header.dataStart + t.begin, header.dataStart + t.end]);
            } else {
              expect(t.dtype).toBe('BOOL');
            }
          }
        },
      ),
      { numRuns: 500 },
    );
  });

  it('a header claiming 2^50 bytes is refused after reading only the 8-byte prefix', async () => {
    const source = recordingSource(concat(u64le(2n ** 50n), new Uint8Array(64)), 2 ** 51, MAX_HEADER);
    await expect(readSafetensorsHeader(source, MAX_HEADER)).rejects.toThrow(
      expect.objectContaining({
        code: 'BAD_USER_INPUT',
        message: expect.stringContaining('header length 1125899906842624 bytes exceeds the limit'),
      }),
    );
    expect(source.reads).toEqual([[0, 8]]);
  });
});

// -------------------------------------------------------------------------------------- CIFAR-10

describe('CIFAR-10 binary under fuzzing', { timeout: TIMEOUT }, () => {
  it('cifar10RecordCount: whole records or a coded error for any size (500 runs)', () => {
    const sizeArb = fc.oneof(
      fc.integer({ min: -10, max: 5 * CIFAR10_RECORD_BYTES }),
      fc.integer({ min: 0, max: 2000 }).map((k) => k * CIFAR10_RECORD_BYTES),
      fc.double(),
      fc.constantFrom(NaN, Infinity, -0, 2 ** 53, 2 ** 53 + 2, 2 ** 60, CIFAR10_RECORD_BYTES * 2 ** 40),
    );
    fc.assert(
      fc.property(sizeArb, (size) => {
        let count: number;
        try {
          count = cifar10RecordCount(size);
        } catch (error) {
          expectDatasetError(error);
          expect(Number.isSafeInteger(size) && size >= CIFAR10_RECORD_BYTES && size % CIFAR10_RECORD_BYTES === 0).toBe(
            false,
          );
          return;
        }
        expect(Number.isSafeInteger(count) && count >= 1 && count * CIFAR10_RECORD_BYTES === size).toBe(true);
      }),
      { numRuns: 500 },
    );
  });

  it('decodeCifar10Records / decodeCifar10Labels: records and labels or a coded error (800 runs)', () => {
    const recordsArb = fc.record({
      records: fc.integer({ min: 0, max: 3 }),
      labels: fc.array(
        fc.oneof(
          { weight: 8, arbitrary: fc.integer({ min: 0, max: 9 }) },
          { weight: 1, arbitrary: fc.integer({ min: 10, max: 255 }) },
        ),
        {
          minLength: 3,
          maxLength: 3,
        },
      ),
      delta: fc.oneof(
        { weight: 3, arbitrary: fc.constant(0) },
        { weight: 1, arbitrary: fc.integer({ min: -3073, max: 3073 }) },
      ),
      firstIndex: fc.oneof(fc.nat(), fc.constant(2 ** 40)),
      seed: fc.nat(),
    });
    fc.assert(
      fc.property(recordsArb, ({ records, labels, delta, firstIndex, seed }) => {
        const length = Math.max(0, records * CIFAR10_RECORD_BYTES + delta);
        const bytes = pseudoRandomBytes(length, seed, 'any');
        for (let r = 0; r < records; r++)
          if (r * CIFAR10_RECORD_BYTES < length) bytes[r * CIFAR10_RECORD_BYTES] = labels[r]!;
        const whole = length % CIFAR10_RECORD_BYTES === 0;
        const count = Math.floor(length / CIFAR10_RECORD_BYTES);
        const expectedLabels = Array.from({ length: count }, (_, r) => bytes[r * CIFAR10_RECORD_BYTES]!);
        const valid = whole && expectedLabels.every((l) => l < 10);

        for (const decode of [
          () => decodeCifar10Records(bytes, firstIndex).labels,
          () => decodeCifar10Labels(bytes, firstIndex),
        ]) {
          let got: Uint8Array;
          try {
            got = decode();
          } catch (error) {
            expectDatasetError(error);
            expect(valid).toBe(false);
            continue;
          }
          expect(valid).toBe(true);
          expect([...got]).toEqual(expectedLabels);
        }
        if (valid) {
          const { images } = decodeCifar10Records(bytes, firstIndex);
          expect(images.length).toBe(count * CIFAR10_IMAGE_BYTES);
          for (let r = 0; r < count; r++) {
            const start = r * CIFAR10_RECORD_BYTES + 1;
            expect(
              Buffer.compare(
                images.subarray(r * CIFAR10_IMAGE_BYTES, (r + 1) * CIFAR10_IMAGE_BYTES),
                bytes.subarray(start, start + CIFAR10_IMAGE_BYTES),
              ),
            ).toBe(0);
          }
        }
      }),
      { numRuns: 800 },
    );
  });
});

// ------------------------------------------------------------------------------------------ IDX

/** parseIdxHeader the way registration calls it: the first idxHeaderLength(kind) bytes and the object size. */
function idxOrCoded(file: Uint8Array, size: number, kind: IdxKind): IdxHeader | undefined {
  try {
    return parseIdxHeader(file.subarray(0, Math.min(file.length, idxHeaderLength(kind))), size, kind);
  } catch (error) {
    expectDatasetError(error);
    return undefined;
  }
}

/** Independent reading of an IDX header of unsigned bytes: is it what `kind` must be, with a size that fits? */
function idxValid(file: Uint8Array, size: number, kind: IdxKind): boolean {
  const rank = kind === 'images' ? 3 : 1;
  const headerLength = 4 + 4 * rank;
  if (file.length < headerLength || size < headerLength) return false;
  if (file[0] !== 0 || file[1] !== 0 || file[2] !== 0x08 || file[3] !== rank) return false;
  const dims = Array.from({ length: rank }, (_, i) =>
    BigInt(new DataView(file.buffer, file.byteOffset).getUint32(4 + 4 * i, false)),
  );
  if (dims.some((d) => d === 0n)) return false;
  return BigInt(headerLength) + dims.reduce((a, b) => a * b, 1n) === BigInt(size);
}

function checkIdx(file: Uint8Array, size: number, kind: IdxKind): IdxHeader | undefined {
  const header = idxOrCoded(file, size, kind);
  expect(header !== undefined).toBe(idxValid(file, size, kind));
  if (header !== undefined) {
    expect(header.kind).toBe(kind);
    expect(header.headerLength).toBe(idxHeaderLength(kind));
    expect(header.dims.length).toBe(kind === 'images' ? 3 : 1);
    expect(header.headerLength + product(header.dims)).toBe(size);
  }
  return header;
}

describe('MNIST IDX under fuzzing', { timeout: TIMEOUT }, () => {
  it('arbitrary bytes, as images and as labels (600 runs)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), fc.constantFrom<IdxKind>('images', 'labels'), (file, kind) => {
        checkIdx(file, file.length, kind);
      }),
      { numRuns: 600 },
    );
  });

  it('plausible headers: magic, type, rank, dimensions and declared count vs actual bytes (1500 runs)', () => {
    const u32 = fc.oneof(
      { weight: 6, arbitrary: fc.integer({ min: 1, max: 6 }) },
      { weight: 1, arbitrary: fc.constant(0) },
      { weight: 1, arbitrary: fc.constantFrom(0xffffffff, 0x80000000, 0x10000, 60000) },
    );
    const idxArb = fc.record({
      kind: fc.constantFrom<IdxKind>('images', 'labels'),
      magic: fc.oneof(
        { weight: 6, arbitrary: fc.constant<number[] | undefined>(undefined) }, // the right magic for the kind
        {
          weight: 1,
          arbitrary: fc.tuple(
            fc.constant(0),
            fc.constant(0),
            fc.constantFrom(0x08, 0x09, 0x0b, 0x0c, 0x0d, 0x0e, 0x42),
            fc.integer({ min: 0, max: 4 }),
          ),
        },
        { weight: 1, arbitrary: fc.constant([0x1f, 0x8b, 0x08, 0x00]) },
        {
          weight: 1,
          arbitrary: fc.tuple(
            fc.integer({ min: 0, max: 255 }),
            fc.integer({ min: 0, max: 255 }),
            fc.integer({ min: 0, max: 255 }),
            fc.integer({ min: 0, max: 255 }),
          ),
        },
      ),
      dims: fc.array(u32, { minLength: 0, maxLength: 4 }),
      delta: fc.oneof(
        { weight: 4, arbitrary: fc.constant(0) },
        { weight: 1, arbitrary: fc.integer({ min: -20, max: 20 }) },
      ),
      cutAt: fc.option(fc.nat(), { freq: 5 }),
      declaredSize: fc.option(fc.oneof(fc.nat(), fc.constantFrom(2 ** 53, 2 ** 64, NaN, -1, 1.5)), { freq: 5 }),
      seed: fc.nat(),
    });
    fc.assert(
      fc.property(idxArb, ({ kind, magic, dims, delta, cutAt, declaredSize, seed }) => {
        const rank = kind === 'images' ? 3 : 1;
        const head = new Uint8Array(4 + 4 * dims.length);
        head.set(magic ?? [0, 0, 0x08, rank]);
        dims.forEach((d, i) => new DataView(head.buffer).setUint32(4 + 4 * i, d, false));
        // Data only as long as the dims say when that is small; a huge product gets a few bytes (a lie to catch).
        const declared = product(dims);
        const bodyLength = Math.max(0, (declared <= 4096 ? declared : 16) + delta);
        let file = concat(head, pseudoRandomBytes(bodyLength, seed, 'any'));
        if (cutAt !== null) file = file.subarray(0, cutAt % (file.length + 1));
        const size = declaredSize ?? file.length;
        if (!Number.isSafeInteger(size) || size < 0) {
          // Not something registration passes (sizes come from stat/HEAD), but it must not crash either.
          const header = idxOrCoded(file, size, kind);
          expect(header).toBeUndefined();
          return;
        }
        checkIdx(file, size, kind);
      }),
      { numRuns: 1500 },
    );
  });

  it('checkIdxPair: a coded error exactly when the counts differ (200 runs)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 2 ** 32 - 1 }), fc.integer({ min: 1, max: 2 ** 32 - 1 }), (n, m) => {
        const images: IdxHeader = { kind: 'images', dims: [n, 28, 28], headerLength: 16 };
        const labels: IdxHeader = { kind: 'labels', dims: [m], headerLength: 8 };
        try {
          checkIdxPair(images, labels);
          expect(n).toBe(m);
        } catch (error) {
          expectDatasetError(error);
          expect(n).not.toBe(m);
        }
      }),
      { numRuns: 200 },
    );
  });
});

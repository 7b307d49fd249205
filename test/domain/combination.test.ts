import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  bezierCoefficients,
  combineStates,
  combineTensors,
  directionPlaneCoefficients,
  lineCoefficients,
  planeCoefficients,
  polychainCoefficients,
} from '../../src/domain/combination.js';
import { interpolateState, interpolateTensor } from '../../src/domain/interpolation.js';
import { decodeTensor } from '../../src/formats/safetensors.decode.js';
import { parseSafetensors, tensorBytes } from '../../src/formats/safetensors.header.js';
import { fixturePath } from '../helpers/fixtures.js';

const f = Math.fround;

/** The documented arithmetic written out term by term, as torch evaluates `c0*t0 + c1*t1 + …` in float32. */
function torchOrder(tensors: Float32Array[], coefficients: number[]): Float32Array {
  const out = new Float32Array(tensors[0]!.length);
  for (let j = 0; j < out.length; j++) {
    let acc = f(f(coefficients[0]!) * tensors[0]![j]!);
    for (let i = 1; i < tensors.length; i++) acc = f(acc + f(f(coefficients[i]!) * tensors[i]![j]!));
    out[j] = acc;
  }
  return out;
}

/** Float32 values of every magnitude and sign, as a seeded stream (no Math.random: failures must replay). */
function values(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  const next = () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
  return Float32Array.from({ length: n }, () => (next() - 0.5) * 10 ** Math.floor(next() * 12 - 6));
}

const bits = (a: Float32Array) => Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));

function loadFloats(relative: string): Map<string, Float32Array> {
  const file = new Uint8Array(readFileSync(fixturePath(relative)));
  const header = parseSafetensors(file);
  const floats = new Map<string, Float32Array>();
  for (const info of header.tensors) {
    const decoded = decodeTensor(info, tensorBytes(file, header, info));
    if (decoded instanceof Float32Array) floats.set(info.name, decoded);
  }
  return floats;
}

describe('combineTensors', () => {
  const a = values(4000, 1);
  const b = values(4000, 2);
  const c = values(4000, 3);
  const d = values(4000, 4);

  it('rounds each product and each partial sum once, in the order of the terms', () => {
    for (const coefficients of [
      [0.3, 0.5, 0.2],
      [1 / 3, -0.75, 1.4],
      [0.1, 0.2, 0.3, 0.4],
      [-2.5, 0.125, 3.75, 1e-3],
    ]) {
      const tensors = [a, b, c, d].slice(0, coefficients.length);
      expect(bits(combineTensors(tensors, coefficients))).toEqual(bits(torchOrder(tensors, coefficients)));
    }
  });

  it('keeps the order: summing the same terms in another order gives other float32 values', () => {
    const forward = combineTensors([a, b, c], [0.3, 0.5, 0.2]);
    const reversed = combineTensors([c, b, a], [0.2, 0.5, 0.3]);
    expect(bits(forward).filter((x, j) => x !== bits(reversed)[j]).length).toBeGreaterThan(0);
  });

  it('with (1 − α, α) is the straight line bit for bit (interpolateTensor delegates to it)', () => {
    for (const alpha of [0, 0.1, 0.25, 1 / 3, 0.5, 0.7, 0.9, 1, -0.5, 1.5]) {
      const line = torchOrder([a, b], [1 - alpha, alpha]);
      expect(bits(interpolateTensor(a, b, alpha))).toEqual(bits(line));
      expect(bits(combineTensors([a, b], lineCoefficients(alpha)))).toEqual(bits(line));
    }
  });

  it('one term is the tensor scaled once; out may alias the first tensor', () => {
    expect(bits(combineTensors([a], [1]))).toEqual(bits(a));
    const scaled = combineTensors([a], [0.1]);
    a.forEach((x, j) => expect(scaled[j]).toBe(f(f(0.1) * x)));
    const copy = Float32Array.from(a);
    expect(combineTensors([copy, b, c], [0.3, 0.5, 0.2], copy)).toBe(copy);
    expect(bits(copy)).toEqual(bits(torchOrder([a, b, c], [0.3, 0.5, 0.2])));
  });

  it('refuses mismatched lengths, counts, aliasing and non-finite coefficients', () => {
    expect(() => combineTensors([a, b.subarray(1)], [0.5, 0.5])).toThrow(/lengths 4000, 3999/);
    expect(() => combineTensors([a, b], [1])).toThrow(/one coefficient per tensor/);
    expect(() => combineTensors([], [])).toThrow(/at least one tensor/);
    expect(() => combineTensors([a, b], [0.5, Number.NaN])).toThrow(/finite/);
    expect(() => combineTensors([a, b, c], [1, 1, 1], Float32Array.from(c).subarray(1))).toThrow(RangeError);
    const cc = Float32Array.from(c);
    expect(() => combineTensors([a, b, cc], [1, 1, 1], cc)).toThrow(/alias only the first/);
  });
});

describe('coefficients', () => {
  const a = values(3000, 11);
  const b = values(3000, 12);
  const c = values(3000, 13);

  it('the plane through A, B, C at y = 0 is the line A → B bit for bit', () => {
    for (const x of [-1, -0.5, 0, 0.1, 0.3, 0.5, 2 / 3, 1, 1.5]) {
      expect(planeCoefficients(x, 0).slice(0, 2)).toEqual(lineCoefficients(x));
      expect(bits(combineTensors([a, b, c], planeCoefficients(x, 0)))).toEqual(bits(interpolateTensor(a, b, x)));
    }
  });

  it('the plane at y = 0 is the line on the MLP checkpoints too (init, final, epoch5)', () => {
    const [init, final, epoch5] = ['init', 'final', 'epoch5'].map((n) => loadFloats(`mlp/${n}.safetensors`));
    for (const x of [-0.5, 0.25, 0.5, 1]) {
      const plane = combineStates([init!, final!, epoch5!], planeCoefficients(x, 0));
      const line = interpolateState(init!, final!, x, 'all');
      for (const [name, values] of line) expect(bits(plane.get(name)!)).toEqual(bits(values));
    }
  });

  it('the plane coefficients sum to one and give A, B, C at the corners', () => {
    expect(planeCoefficients(0, 0)).toEqual([1, 0, 0]);
    expect(planeCoefficients(1, 0)).toEqual([0, 1, 0]);
    expect(planeCoefficients(0, 1)).toEqual([0, 0, 1]);
    expect(planeCoefficients(0.3, 0.4)).toEqual([1 - 0.3 - 0.4, 0.3, 0.4]);
    expect(bits(combineTensors([a, b, c], planeCoefficients(0, 1)))).toEqual(bits(c));
  });

  it("the direction plane is Li et al.'s w + (x·d_x + y·d_y), in their association", () => {
    const [x, y] = [0.37, -0.81];
    const plane = combineTensors([a, b, c], directionPlaneCoefficients(x, y));
    c.forEach((w, j) => expect(plane[j]).toBe(f(w + f(f(f(x) * a[j]!) + f(f(y) * b[j]!)))));
    expect(bits(combineTensors([a, b, c], directionPlaneCoefficients(0, 0)))).toEqual(bits(c));
  });

  it('Bezier: ((1 − t)², 2t(1 − t), t²), A at t = 0 and B at t = 1, the line when the bend is the midpoint', () => {
    expect(bezierCoefficients(0)).toEqual([1, 0, 0]);
    expect(bezierCoefficients(1)).toEqual([0, 0, 1]);
    expect(bezierCoefficients(0.5)).toEqual([0.25, 0.5, 0.25]);
    expect(bezierCoefficients(0.3)).toEqual([0.7 * 0.7, 2 * 0.3 * 0.7, 0.3 * 0.3]);
    expect(bits(combineTensors([a, b, c], bezierCoefficients(0)))).toEqual(bits(a));
    expect(bits(combineTensors([a, b, c], bezierCoefficients(1)))).toEqual(bits(c));
    // A Bezier curve whose bend is the midpoint of A and B is the straight line at α = t (up to float32 rounding).
    const bend = combineTensors([a, c], [0.5, 0.5]);
    for (const t of [0.2, 0.5, 0.9]) {
      const curve = combineTensors([a, bend, c], bezierCoefficients(t));
      const line = interpolateTensor(a, c, t);
      curve.forEach((v, j) =>
        expect(Math.abs(v - line[j]!)).toBeLessThanOrEqual(1e-5 * (Math.abs(a[j]!) + Math.abs(c[j]!))),
      );
    }
  });

  it("polychain: Garipov et al.'s max(0, 1 − |2t − k|); each half is a straight line bit for bit", () => {
    for (const t of [0, 0.1, 0.25, 0.4, 0.5, 0.6, 0.75, 0.95, 1]) {
      const expected = [0, 1, 2].map((k) => Math.max(0, 1 - Math.abs(2 * t - k)));
      // Equal as the float32 coefficients the combination uses (in float64, 1 − |0.2 − 1| is not 0.2).
      expect(polychainCoefficients(t).map((v) => f(v) + 0)).toEqual(expected.map((v) => f(v) + 0));
      const chain = combineTensors([a, b, c], polychainCoefficients(t));
      const line = t <= 0.5 ? interpolateTensor(a, b, 2 * t) : interpolateTensor(b, c, 2 * t - 1);
      expect(bits(chain)).toEqual(bits(line));
    }
  });
});

describe('combineStates', () => {
  const s = (w: number[], b: number[]) =>
    new Map([
      ['w', Float32Array.from(w)],
      ['b', Float32Array.from(b)],
    ]);
  const A = s([0, 0], [0]);
  const B = s([2, 4], [8]);
  const C = s([1, 1], [16]);

  it('combines the moving tensors and takes the others from states[fixedFrom] (by default the last)', () => {
    const all = combineStates([A, B, C], [0.5, 0.25, 0.25]);
    expect(all.get('w')).toEqual(Float32Array.from([0.75, 1.25]));
    expect(all.get('b')).toEqual(Float32Array.from([6]));
    const someFromLast = combineStates([A, B, C], [0.5, 0.25, 0.25], new Set(['w']));
    expect(someFromLast.get('b')).toBe(C.get('b'));
    expect(combineStates([A, B, C], [0.5, 0.25, 0.25], new Set(['w']), 0).get('b')).toBe(A.get('b'));
  });

  it('with two states and (1 − α, α) is interpolateState', () => {
    for (const moving of ['all', new Set(['w'])] as const) {
      const line = interpolateState(A, B, 0.3, moving);
      const combined = combineStates([A, B], lineCoefficients(0.3), moving);
      expect([...combined]).toEqual([...line]);
    }
  });

  it('refuses missing tensors and bad arguments', () => {
    expect(() => combineStates([new Map([['w', Float32Array.from([1, 2])]]), B], [0.5, 0.5])).toThrow(
      /"b" is missing from state 0/,
    );
    expect(() => combineStates([A, B], [1])).toThrow(/one coefficient per state/);
    expect(() => combineStates([A, B], [0.5, 0.5], 'all', 2)).toThrow(/fixedFrom must index a state \(0\.\.1\), got 2/);
  });
});

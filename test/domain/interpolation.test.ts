import { describe, expect, it } from 'vitest';
import { interpolateState, interpolateTensor } from '../../src/domain/interpolation.js';

describe('interpolateTensor', () => {
  const a = Float32Array.from([1.1, -3.3, 1e-8, 65504, 0.7, 0.25]);
  const b = Float32Array.from([2.2, 5.5, -1e-8, -65504, 0.7, 1]);

  it('gives the end points bit for bit at α = 0 and α = 1', () => {
    expect(interpolateTensor(a, b, 0)).toEqual(a);
    expect(interpolateTensor(a, b, 1)).toEqual(b);
    // As in torch, −0 comes out as +0 (−0 + 0 = +0); every other value is kept exactly.
    expect(Object.is(interpolateTensor(Float32Array.from([-0]), Float32Array.from([1]), 0)[0], 0)).toBe(true);
  });

  it('rounds like torch: fl32(fl32(c0·a) + fl32(c1·b)) with c0 = f32(1 − α), c1 = f32(α)', () => {
    for (const alpha of [0.1, 0.3, 0.7, 1 / 3, -0.5, 2.25]) {
      const c0 = Math.fround(1 - alpha);
      const c1 = Math.fround(alpha);
      const out = interpolateTensor(a, b, alpha);
      a.forEach((ai, i) => expect(out[i]).toBe(Math.fround(Math.fround(c0 * ai) + Math.fround(c1 * b[i]!))));
    }
  });

  it('differs from a single rounding of the exact value where torch does', () => {
    // Found by search: values where rounding each product first changes the float32 result.
    let differs = 0;
    const alpha = 0.1;
    for (let k = 1; k < 2000; k++) {
      const x = Float32Array.from([k * 1.000123]);
      const y = Float32Array.from([-k * 0.999877]);
      const once = Math.fround((1 - alpha) * x[0]! + alpha * y[0]!);
      if (interpolateTensor(x, y, alpha)[0] !== once) differs++;
    }
    expect(differs).toBeGreaterThan(0);
  });

  it('refuses tensors of different lengths', () => {
    expect(() => interpolateTensor(a, b.subarray(1), 0.5)).toThrow(RangeError);
  });
});

describe('interpolateState', () => {
  it('moves only the named tensors and takes every other from `to` (Eq. 2)', () => {
    const from = new Map([
      ['w', Float32Array.from([0, 0])],
      ['b', Float32Array.from([0])],
    ]);
    const to = new Map([
      ['w', Float32Array.from([2, 4])],
      ['b', Float32Array.from([8])],
    ]);
    const state = interpolateState(from, to, 0.5, new Set(['w']));
    expect(state.get('w')).toEqual(Float32Array.from([1, 2]));
    expect(state.get('b')).toBe(to.get('b'));
    expect(interpolateState(from, to, 0.25, 'all').get('b')).toEqual(Float32Array.from([2]));
    expect(() => interpolateState(new Map(), to, 0.5, 'all')).toThrow(/missing from the start state/);
  });
});

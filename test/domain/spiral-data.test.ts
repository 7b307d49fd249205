import { describe, expect, it } from 'vitest';
import { DEFAULT_SPIRAL_TURNS, paperSpiral } from '../../src/domain/spiral-data.js';

describe('paperSpiral (Vlaar & Frankle 2022, Appendix A, as reconstructed)', () => {
  it('puts class 0 on r = √t, angle 2π·k·√t, and class 1 on the same arm turned by π', () => {
    for (const turns of [1, DEFAULT_SPIRAL_TURNS, 3.5]) {
      const { x, labels } = paperSpiral(2000, { seed: 3, turns, noise: 0 });
      for (let i = 0; i < labels.length; i++) {
        const [px, py] = [x[2 * i]!, x[2 * i + 1]!];
        const r = Math.hypot(px, py);
        expect(r).toBeLessThanOrEqual(1 + 1e-6);
        const expected = 2 * Math.PI * turns * r + (labels[i] === 1 ? Math.PI : 0);
        // The angle of the point equals the expected one modulo 2π (float32 coordinates: ~1e-6 relative).
        const wrapped = Math.atan2(Math.sin(Math.atan2(py, px) - expected), Math.cos(Math.atan2(py, px) - expected));
        expect(Math.abs(wrapped)).toBeLessThan(1e-4 / Math.max(r, 1e-3));
      }
    }
  });

  it('draws t uniformly, so r² = t is uniform: the points are spread evenly along each arm', () => {
    const { x } = paperSpiral(20_000, { seed: 1, noise: 0 });
    const bins = new Array<number>(10).fill(0);
    for (let i = 0; i < 20_000; i++) bins[Math.min(9, Math.floor((x[2 * i]! ** 2 + x[2 * i + 1]! ** 2) * 10))]! += 1;
    // 2,000 expected per bin; the binomial standard deviation is 42, so ±200 is far beyond chance.
    for (const count of bins) expect(Math.abs(count - 2000)).toBeLessThan(200);
  });

  it('is balanced, seeded and noisy as asked', () => {
    const a = paperSpiral(10_000, { seed: 1 });
    const b = paperSpiral(10_000, { seed: 1 });
    expect(Buffer.from(a.x.buffer).equals(Buffer.from(b.x.buffer))).toBe(true);
    expect(Buffer.from(paperSpiral(10_000, { seed: 2 }).x.buffer).equals(Buffer.from(a.x.buffer))).toBe(false);
    const ones = a.labels.reduce((s, l) => s + l, 0);
    expect(Math.abs(ones - 5000)).toBeLessThan(4 * 50); // binomial σ = 50
    // Noise σ: the deviation of each point from its noiseless position, with the same seed's t and labels.
    const clean = paperSpiral(10_000, { seed: 1, noise: 0 });
    const noisy = paperSpiral(10_000, { seed: 1, noise: 0.05 });
    let sum = 0;
    for (let j = 0; j < 20_000; j++) sum += (noisy.x[j]! - clean.x[j]!) ** 2;
    expect(Math.sqrt(sum / 20_000)).toBeCloseTo(0.05, 2);
    expect(() => paperSpiral(0, { seed: 1 })).toThrow(/n: expected an integer ≥ 1, got 0/);
    expect(() => paperSpiral(10, { seed: 1, turns: 0 })).toThrow(/turns/);
    expect(() => paperSpiral(10, { seed: 1, noise: -1 })).toThrow(/noise/);
  });
});

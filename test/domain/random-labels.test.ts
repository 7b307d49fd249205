import { describe, expect, it } from 'vitest';
import { randomizeLabels } from '../../src/domain/random-labels.js';

describe('randomizeLabels', () => {
  const labels = Int32Array.from({ length: 10_000 }, (_, i) => i % 10);

  it('redraws exactly round(fraction · n) seeded examples, uniformly over the classes, and leaves the input alone', () => {
    const { labels: out, redrawn } = randomizeLabels(labels, 10, 0.3, 5);
    expect(redrawn).toHaveLength(3000);
    expect(new Set(redrawn).size).toBe(3000);
    const kept = new Set(redrawn);
    for (let i = 0; i < labels.length; i++) if (!kept.has(i)) expect(out[i]).toBe(labels[i]);
    // Redrawn labels are uniform: each class 300 ± 4σ (σ ≈ 16.4); about a tenth equal the true label.
    const counts = new Array<number>(10).fill(0);
    let same = 0;
    for (const i of redrawn) {
      counts[out[i]!]! += 1;
      if (out[i] === labels[i]) same++;
    }
    for (const c of counts) expect(Math.abs(c - 300)).toBeLessThan(66);
    expect(Math.abs(same - 300)).toBeLessThan(66);
    expect(labels[0]).toBe(0);
    expect(randomizeLabels(labels, 10, 0.3, 5).labels).toEqual(out);
    expect(randomizeLabels(labels, 10, 0.3, 6).labels).not.toEqual(out);
    expect(randomizeLabels(labels, 10, 0, 5).labels).toEqual(labels);
    expect(randomizeLabels(labels, 10, 1, 5).redrawn).toHaveLength(10_000);
  });

  it('refuses fractions, seeds and class counts out of range', () => {
    expect(() => randomizeLabels(labels, 10, 1.5, 1)).toThrow(/fraction: expected a fraction in \[0, 1\], got 1.5/);
    expect(() => randomizeLabels(labels, 10, 0.5, -1)).toThrow(/seed/);
    expect(() => randomizeLabels(labels, 1, 0.5, 1)).toThrow(/at least 2 classes/);
  });
});

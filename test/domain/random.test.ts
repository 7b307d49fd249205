import { describe, expect, it } from 'vitest';
import { SeededRandom } from '../../src/domain/random.js';

/**
 * SplitMix64 as Vigna's reference writes it, on BigInt (the form linpath used before the 32-bit one): the
 * oracle for the stream, which demo training, random initialisations, the training fixtures' shuffling
 * (test/fixtures/training/make_reference.py) and every seeded correlation statistic depend on.
 */
class BigIntSplitMix64 {
  private state: bigint;
  constructor(seed: number) {
    this.state = BigInt.asUintN(64, BigInt(seed));
  }
  next(): number {
    this.state = BigInt.asUintN(64, this.state + 0x9e3779b97f4a7c15n);
    let z = this.state;
    z = BigInt.asUintN(64, (z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n);
    z = BigInt.asUintN(64, (z ^ (z >> 27n)) * 0x94d049bb133111ebn);
    z ^= z >> 31n;
    return Number(z >> 11n) / 2 ** 53;
  }
}

describe('SeededRandom', () => {
  const seeds = [0, 1, 5, 42, 20_220_101, 20_220_102, 2 ** 31 - 1, 2 ** 31, 2 ** 32 - 1, 2 ** 32, 2 ** 32 + 7];
  const more = [2 ** 53 - 1, 2 ** 60, 123_456_789_012_345, -1, -2, -(2 ** 32), -(2 ** 53) + 1, 1e300];

  it('draws the BigInt SplitMix64 stream bit for bit, for small, large and negative seeds', () => {
    for (const seed of [...seeds, ...more]) {
      const fast = new SeededRandom(seed);
      const reference = new BigIntSplitMix64(seed);
      for (let i = 0; i < 20_000; i++) {
        const [a, b] = [fast.next(), reference.next()];
        if (a !== b) expect({ seed, draw: i, value: a }).toEqual({ seed, draw: i, value: b });
      }
    }
  });

  it('starts from known SplitMix64 outputs (seed 0: 0xe220a8397b1dcdaf, then 0x6e789e6aa1b965f4)', () => {
    const random = new SeededRandom(0);
    expect(random.next()).toBe(Number(0xe220a8397b1dcdafn >> 11n) / 2 ** 53);
    expect(random.next()).toBe(Number(0x6e789e6aa1b965f4n >> 11n) / 2 ** 53);
  });

  it('draws the same permutations into a reused buffer as fresh ones, and they are Fisher–Yates on the stream', () => {
    const [a, b, c] = [new SeededRandom(9), new SeededRandom(9), new BigIntSplitMix64(9)];
    const buffer = new Int32Array(37);
    for (let k = 0; k < 200; k++) {
      const fresh = a.permutation(37);
      expect(b.shuffleIdentity(buffer)).toEqual(fresh);
      const order = Array.from({ length: 37 }, (_, i) => i);
      for (let i = 36; i > 0; i--) {
        const j = Math.floor(c.next() * (i + 1));
        [order[i], order[j]] = [order[j]!, order[i]!];
      }
      expect([...fresh]).toEqual(order);
    }
  });

  it('refuses a seed that is not an integer', () => {
    expect(() => new SeededRandom(1.5)).toThrow(/expected an integer seed, got 1.5/);
    expect(() => new SeededRandom(Number.NaN)).toThrow(RangeError);
  });
});

/**
 * A small seeded generator (SplitMix64, 53-bit doubles): deterministic across platforms, for demo training,
 * random initialisations and the resampling statistics of correlations. Not cryptographic.
 *
 * The 64-bit state is kept as two unsigned 32-bit halves and multiplied in 16-bit limbs, so that a draw costs
 * a few integer operations instead of BigInt arithmetic (about 20× faster); the stream is the same, bit for bit,
 * as the BigInt form z = state += 0x9e3779b97f4a7c15; z = (z ^ z >> 30)·0xbf58476d1ce4e5b9;
 * z = (z ^ z >> 27)·0x94d049bb133111eb; z ^= z >> 31; (z >> 11) / 2⁵³ (test/domain/random.test.ts compares them).
 */
export class SeededRandom {
  private hi: number;
  private lo: number;

  /** The state is the seed modulo 2⁶⁴ (two's complement for a negative one); a seed must be an integer. */
  constructor(seed: number) {
    if (!Number.isInteger(seed)) throw new RangeError(`SeededRandom: expected an integer seed, got ${seed}`);
    this.lo = ((seed % TWO_32) + TWO_32) % TWO_32;
    this.hi = ((Math.floor(seed / TWO_32) % TWO_32) + TWO_32) % TWO_32;
  }

  /** Uniform in [0, 1). */
  next(): number {
    // state += 0x9e3779b97f4a7c15 (mod 2⁶⁴)
    const lo = this.lo + 0x7f4a7c15;
    this.lo = lo >>> 0;
    this.hi = (this.hi + 0x9e3779b9 + (lo > 0xffffffff ? 1 : 0)) >>> 0;
    // z = (z ^ (z >> 30)) · 0xbf58476d1ce4e5b9
    let zl = (this.lo ^ ((this.lo >>> 30) | (this.hi << 2))) >>> 0;
    let zh = (this.hi ^ (this.hi >>> 30)) >>> 0;
    multiply(zh, zl, 0xbf58476d, 0x1ce4e5b9);
    // z = (z ^ (z >> 27)) · 0x94d049bb133111eb
    zl = (product.lo ^ ((product.lo >>> 27) | (product.hi << 5))) >>> 0;
    zh = (product.hi ^ (product.hi >>> 27)) >>> 0;
    multiply(zh, zl, 0x94d049bb, 0x133111eb);
    // z ^= z >> 31; (z >> 11) / 2⁵³
    zl = (product.lo ^ ((product.lo >>> 31) | (product.hi << 1))) >>> 0;
    zh = (product.hi ^ (product.hi >>> 31)) >>> 0;
    return (zh * 2 ** 21 + (zl >>> 11)) / 2 ** 53;
  }

  uniform(low: number, high: number): number {
    return low + (high - low) * this.next();
  }

  /** A random permutation of 0..n-1 (Fisher–Yates). */
  permutation(n: number): Int32Array {
    return this.shuffleIdentity(new Int32Array(n));
  }

  /**
   * Fills `order` with the permutation {@link permutation}(order.length) would return, drawing the same
   * numbers, without allocating: for loops that draw many permutations of one length.
   */
  shuffleIdentity(order: Int32Array): Int32Array {
    const n = order.length;
    for (let i = 0; i < n; i++) order[i] = i;
    for (let i = n - 1; i > 0; i--) {
      const j = Math.floor(this.next() * (i + 1));
      const swap = order[i]!;
      order[i] = order[j]!;
      order[j] = swap;
    }
    return order;
  }
}

const TWO_32 = 2 ** 32;

/** The low 64 bits of (ah·2³² + al)·(bh·2³² + bl), all four unsigned 32-bit: written to `product`. */
const product = { hi: 0, lo: 0 };
function multiply(ah: number, al: number, bh: number, bl: number): void {
  // al·bl in full (16-bit limbs keep every partial product exact), plus the cross terms' low 32 bits.
  const a0 = al & 0xffff;
  const a1 = al >>> 16;
  const b0 = bl & 0xffff;
  const b1 = bl >>> 16;
  const low = a0 * b0;
  const mid1 = a1 * b0;
  const mid2 = a0 * b1;
  const carry = (low >>> 16) + (mid1 & 0xffff) + (mid2 & 0xffff);
  const high = a1 * b1 + (mid1 >>> 16) + (mid2 >>> 16) + (carry >>> 16);
  product.lo = ((carry << 16) | (low & 0xffff)) >>> 0;
  product.hi = (high + Math.imul(ah, bl) + Math.imul(al, bh)) >>> 0;
}

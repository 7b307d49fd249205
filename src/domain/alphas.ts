/**
 * The α-list syntax of the CLI (`--alphas`) and the dashboard's α box, one grammar for both:
 * - a comma-separated list of numbers, `0, 0.25, 0.5, 1` (decimal, with an optional sign and exponent), or
 * - an inclusive range `start:stop:step` with step > 0 and stop ≥ start, e.g. `0:1:0.1` (11 values; each value is
 *   start + i·step rounded to 12 significant digits, so 0.30000000000000004 reads as 0.3).
 * Spaces around numbers and separators are ignored. The result is sorted and without repeats (−0 is 0), as the
 * server stores a path's points. At most MAX_ALPHA_LIST values, the largest LINPATH_MAX_ALPHAS a server accepts:
 * the server refuses more than its own limit with a coded error.
 */
export const MAX_ALPHA_LIST = 100_000;

/** An α list that does not follow the syntax; the message says what was expected and what was given. */
export class AlphaSyntaxError extends Error {
  override readonly name = 'AlphaSyntaxError';
}

const NUMBER = String.raw`[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?`;
const LIST_ITEM = new RegExp(`^${NUMBER}$`);
const RANGE = new RegExp(`^(${NUMBER}):(${NUMBER}):(${NUMBER})$`);

export function parseAlphaList(text: string): number[] {
  const compact = text.replace(/\s+/g, '');
  const range = RANGE.exec(compact);
  if (range !== null) {
    const [start, stop, step] = range.slice(1).map(Number) as [number, number, number];
    if (!(step > 0) || !(stop >= start) || ![start, stop, step].every(Number.isFinite))
      throw new AlphaSyntaxError(`alphas: expected start:stop:step with step > 0 and stop ≥ start, got "${text}"`);
    const count = Math.floor((stop - start) / step + 1e-9) + 1;
    if (count > MAX_ALPHA_LIST)
      throw new AlphaSyntaxError(`alphas: expected at most ${MAX_ALPHA_LIST} values, got ${count} from "${text}"`);
    return distinctSorted(Array.from({ length: count }, (_, i) => Number((start + i * step).toPrecision(12))));
  }
  const parts = compact.split(',');
  if (parts.some((part) => !LIST_ITEM.test(part)) || parts.some((part) => !Number.isFinite(Number(part))))
    throw new AlphaSyntaxError(`alphas: expected comma-separated numbers or start:stop:step, got "${text}"`);
  if (parts.length > MAX_ALPHA_LIST)
    throw new AlphaSyntaxError(`alphas: expected at most ${MAX_ALPHA_LIST} values, got ${parts.length}`);
  return distinctSorted(parts.map(Number));
}

const distinctSorted = (values: readonly number[]): number[] =>
  [...new Set(values.map((v) => (v === 0 ? 0 : v)))].sort((a, b) => a - b);

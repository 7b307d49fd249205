/**
 * Scales for plots of values over a plane: "nice" tick values on a linear or a logarithmic axis, and a
 * sequential colour scale (viridis) from a value to a colour, with the tick values its legend and contour lines
 * use. Pure; the dashboard's plane view and the SVG plots of reports share them.
 */

export type ScaleKind = 'linear' | 'log';

/**
 * Ticks at multiples of a step of 1, 2 or 5 × 10ᵏ inside [low, high]: the step nearest (range / count) in the
 * sense of d3-array's `tickIncrement` (factor 10, 5, 2 or 1 above √50, √10, √2), so about `count` intervals;
 * each value rounded to 10 significant digits, so that 3 × 0.1 reads 0.3.
 */
export function niceTicks(low: number, high: number, count = 5): number[] {
  if (!Number.isFinite(low) || !Number.isFinite(high)) return [];
  if (!(high > low)) return [low];
  const raw = (high - low) / Math.max(1, count);
  const unit = 10 ** Math.floor(Math.log10(raw));
  const error = raw / unit;
  const step = unit * (error >= Math.sqrt(50) ? 10 : error >= Math.sqrt(10) ? 5 : error >= Math.SQRT2 ? 2 : 1);
  const values: number[] = [];
  for (let k = Math.ceil(low / step - 1e-9); k * step <= high + step * 1e-9; k++)
    values.push(Number((k * step).toPrecision(10)));
  return values;
}

/**
 * Ticks for a logarithmic axis on [low, high] (both > 0): powers of ten (every second, fifth, … one when there
 * are more than `count` decades), with 2 and 5 × 10ᵏ added when that gives at most `count` ticks; a range
 * inside one decade gets linear nice ticks instead, which still read well there.
 */
export function logTicks(low: number, high: number, count = 5): number[] {
  if (!(low > 0) || !Number.isFinite(high)) return [];
  if (!(high > low)) return [low];
  const inside = (v: number) => v >= low * (1 - 1e-12) && v <= high * (1 + 1e-12);
  const first = Math.floor(Math.log10(low));
  const last = Math.ceil(Math.log10(high));
  const decades: number[] = [];
  for (let k = first; k <= last; k++) decades.push(Number((10 ** k).toPrecision(12)));
  const powers = decades.filter(inside);
  if (powers.length > count) {
    const every = Math.ceil(powers.length / count);
    return powers.filter((v) => Math.round(Math.log10(v)) % every === 0);
  }
  const finer = decades
    .flatMap((d) => [d, 2 * d, 5 * d])
    .map((v) => Number(v.toPrecision(12)))
    .filter(inside);
  if (finer.length <= count && finer.length >= 2) return finer;
  if (powers.length >= 2) return powers;
  return niceTicks(low, high, count);
}

/** Matplotlib's viridis at 0, 0.1, …, 1 (perceptually uniform, readable in grey and by most colour-blind readers). */
const VIRIDIS = [
  '#440154',
  '#482475',
  '#414487',
  '#355f8d',
  '#2a788e',
  '#21918c',
  '#22a884',
  '#44bf70',
  '#7ad151',
  '#bddf26',
  '#fde725',
];

const rgb = (hex: string): [number, number, number] => [
  Number.parseInt(hex.slice(1, 3), 16),
  Number.parseInt(hex.slice(3, 5), 16),
  Number.parseInt(hex.slice(5, 7), 16),
];

/** Viridis at t ∈ [0, 1] (clamped), linear in RGB between its 11 stops, as #rrggbb. */
export function viridis(t: number): string {
  const clamped = Math.min(1, Math.max(0, Number.isNaN(t) ? 0 : t));
  const scaled = clamped * (VIRIDIS.length - 1);
  const k = Math.min(VIRIDIS.length - 2, Math.floor(scaled));
  const f = scaled - k;
  const [a, b] = [rgb(VIRIDIS[k]!), rgb(VIRIDIS[k + 1]!)];
  return `#${a
    .map((c, i) =>
      Math.round(c + f * (b[i]! - c))
        .toString(16)
        .padStart(2, '0'),
    )
    .join('')}`;
}

export interface ColourScale {
  kind: ScaleKind;
  /** The smallest and largest value shown (on a log scale, of the values above 0). */
  domain: readonly [number, number];
  /**
   * Where a value lies on the scale, 0 at domain[0] and 1 at domain[1] (linearly in the value or in its
   * logarithm), clamped to [0, 1]; on a log scale a value ≤ 0 is at 0. NaN for a value not known.
   */
  position(value: number | null | undefined): number;
  /** The colour of a value; null for a value not known (null, NaN, ±∞). */
  colour(value: number | null | undefined): string | null;
  /** Tick values inside the domain, for the legend. */
  ticks(count?: number): number[];
}

/** A viridis colour scale over the finite values given (on a log scale, those above 0). */
export function colourScale(values: Iterable<number | null | undefined>, kind: ScaleKind): ColourScale {
  let low = Number.POSITIVE_INFINITY;
  let high = Number.NEGATIVE_INFINITY;
  for (const v of values) {
    if (v === null || v === undefined || !Number.isFinite(v) || (kind === 'log' && v <= 0)) continue;
    low = Math.min(low, v);
    high = Math.max(high, v);
  }
  if (low > high) [low, high] = kind === 'log' ? [1, 1] : [0, 0];
  const transform = kind === 'log' ? Math.log : (v: number) => v;
  const [t0, t1] = [transform(low), transform(high)];
  const position = (value: number | null | undefined): number => {
    if (value === null || value === undefined || !Number.isFinite(value)) return Number.NaN;
    if (kind === 'log' && value <= 0) return 0;
    if (t1 === t0) return 0.5;
    return Math.min(1, Math.max(0, (transform(value) - t0) / (t1 - t0)));
  };
  return {
    kind,
    domain: [low, high],
    position,
    colour: (value) => {
      const p = position(value);
      return Number.isNaN(p) ? null : viridis(p);
    },
    ticks: (count = 5) => (kind === 'log' ? logTicks(low, high, count) : niceTicks(low, high, count)),
  };
}

/** Levels for contour lines: the scale's ticks strictly inside its domain (a level at an extreme draws nothing useful). */
export function contourLevels(scale: ColourScale, count = 8): number[] {
  const [low, high] = scale.domain;
  return scale.ticks(count).filter((v) => v > low && v < high);
}

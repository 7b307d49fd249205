import { contentKey, type ObjectIdentity } from './path-key.js';

/**
 * Everything that determines the losses of a combination's points except the coefficients: the states' pinned
 * objects in the order of the coefficients (checkpoints and directions alike: directions are stored objects),
 * the architecture, the dataset object, its view and subset, the BatchNorm mode.
 */
export interface CombinationIdentity {
  architecture: string;
  architectureSha256?: string | undefined;
  states: readonly ObjectIdentity[];
  dataset: { object: ObjectIdentity; labels: ObjectIdentity | undefined; view: Record<string, unknown> };
  exampleCount: number;
  bnStats: string;
  bnStatsData?: { object: ObjectIdentity; view: Record<string, unknown>; exampleCount: number } | undefined;
}

/**
 * The memo key of a combination. `kind` keeps it apart from every path key: a line is a path, keyed by
 * domain/path-key.ts as it always was.
 */
export const combinationKey = (identity: CombinationIdentity): string =>
  contentKey({ kind: 'combination', ...identity });

/**
 * The key of a point of a combination: its coefficients as the float32 bit patterns combineTensors multiplies by
 * (domain/combination.ts rounds each coefficient to float32 once), 8 hex digits each, comma-separated. Two
 * requests whose float64 coefficients round to the same float32 values ask for the same θ, bit for bit, and share
 * one row. −0 is written as +0: the two give states that differ at most in the sign of a zero.
 */
export function coefficientsKey(coefficients: readonly number[]): string {
  const bits = new Uint32Array(new Float32Array(coefficients.map((c) => (c === 0 ? 0 : c))).buffer);
  return [...bits].map((b) => b.toString(16).padStart(8, '0')).join(',');
}

/** The float32 coefficients of a point's key (as numbers), in the order of the combination's states. */
export function coefficientsOfKey(key: string): number[] {
  const words = key.split(',');
  if (words.some((w) => !/^[0-9a-f]{8}$/.test(w))) throw new RangeError(`coefficientsOfKey: not a key: "${key}"`);
  return [...new Float32Array(Uint32Array.from(words, (w) => parseInt(w, 16)).buffer)];
}

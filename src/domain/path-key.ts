import { createHash } from 'node:crypto';

/** The pinned identity of a stored object: the same bytes always give the same identity. */
export interface ObjectIdentity {
  uri: string;
  etag: string;
  size: number;
}

export interface PathIdentity {
  /** The same bytes read as another architecture are another computation. */
  architecture: string;
  /** An architecture registered from an ONNX export: its graph's sha256 (absent for built-ins). */
  architectureSha256?: string | undefined;
  from: ObjectIdentity;
  to: ObjectIdentity;
  /** Sorted names of the tensors that move. */
  movingTensors: readonly string[];
  dataset: { object: ObjectIdentity; labels: ObjectIdentity | undefined; view: Record<string, unknown> };
  exampleCount: number;
  bnStats: string;
  /** RECOMPUTE only: the examples BatchNorm statistics are recomputed over. */
  bnStatsData?: { object: ObjectIdentity; view: Record<string, unknown>; exampleCount: number } | undefined;
}

/**
 * The memo key of a path: a hash of everything that determines its losses and nothing else, so two
 * requests that describe the same computation (e.g. blocks "stem" and "conv1, bn1") share one curve, and any
 * change of contents (an object re-uploaded, another subset) gets its own.
 */
export function pathKey(identity: PathIdentity): string {
  return contentKey(identity);
}

/** sha256 of the canonical JSON of a value (keys sorted, undefined left out): the memo keys' hash. */
export function contentKey(value: unknown): string {
  return createHash('sha256').update(canonicalJson(value)).digest('hex');
}

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

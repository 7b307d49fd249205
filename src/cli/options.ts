import { InvalidArgumentError } from 'commander';

export function parseStep(value: string): number {
  if (!/^\d{1,15}$/.test(value)) throw new InvalidArgumentError(`expected an integer ≥ 0, got "${value}"`);
  return Number(value);
}

export function parseNumberList(value: string): number[] {
  const numbers = value.split(',').map((part) => (part.trim() === '' ? Number.NaN : Number(part)));
  if (numbers.some((n) => !Number.isFinite(n))) {
    throw new InvalidArgumentError(`expected comma-separated numbers such as 125.3,123,113.9, got "${value}"`);
  }
  return numbers;
}

export const printJson = (value: unknown): void => {
  process.stdout.write(`${JSON.stringify(value)}\n`);
};

/** `--hparam key=value` (repeatable): the value as JSON when it parses (0.1, true, "x", [1,2]), else as text. */
export function parseHyperparameter(value: string, previous: Record<string, unknown> = {}): Record<string, unknown> {
  const match = /^([A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*)=(.*)$/s.exec(value);
  if (match === null) {
    throw new InvalidArgumentError(
      `expected key=value (e.g. weight_decay=0.0005 or optimizer.name=adam), got "${value}"`,
    );
  }
  const [, path, text] = match as unknown as [string, string, string];
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = text;
  }
  const result = structuredClone(previous);
  const segments = path.split('.');
  let node = result;
  for (const segment of segments.slice(0, -1)) {
    const next = node[segment];
    node = node[segment] =
      next !== null && typeof next === 'object' && !Array.isArray(next) ? (next as Record<string, unknown>) : {};
  }
  node[segments[segments.length - 1]!] = parsed;
  return result;
}

/** Repeatable options: each use adds one value. */
export const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

/** `previous` with `patch` merged in, nested objects merged key by key. */
export function mergeObjects(
  previous: Record<string, unknown>,
  patch: Record<string, unknown>,
): Record<string, unknown> {
  const result: Record<string, unknown> = { ...previous };
  for (const [key, value] of Object.entries(patch)) {
    const old = result[key];
    const bothObjects = [old, value].every((v) => v !== null && typeof v === 'object' && !Array.isArray(v));
    result[key] = bothObjects ? mergeObjects(old as Record<string, unknown>, value as Record<string, unknown>) : value;
  }
  return result;
}

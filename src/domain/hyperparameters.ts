import { badUserInput } from '../errors.js';

/** The value at a dot-separated path (`optimizer.lr`) of a run's hyper-parameters; undefined where there is none. */
export function valueAt(object: Record<string, unknown>, segments: readonly string[]): unknown {
  let value: unknown = object;
  for (const segment of segments) {
    if (value === null || typeof value !== 'object' || Array.isArray(value)) return undefined;
    value = (value as Record<string, unknown>)[segment];
  }
  return value;
}

/** Every leaf path of the hyper-parameters (`lr`, `optimizer.momentum`), sorted: the keys one can group by. */
export function hyperparameterPaths(object: Record<string, unknown>, prefix = ''): string[] {
  const paths: string[] = [];
  for (const [key, value] of Object.entries(object)) {
    const path = `${prefix}${key}`;
    if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
      paths.push(...hyperparameterPaths(value as Record<string, unknown>, `${path}.`));
    } else paths.push(path);
  }
  return paths.sort();
}

/**
 * The hyper-parameters as `[path, text]` pairs, one per leaf in `hyperparameterPaths` order, for people to
 * read (the CLI's `key=value` column, the dashboard's chips): strings unquoted, arrays as `[a, b]`, other
 * values as JSON.
 */
export function hyperparameterEntries(object: Record<string, unknown>): Array<[string, string]> {
  return hyperparameterPaths(object).map((path) => [path, leafText(valueAt(object, path.split('.')))]);
}

const leafText = (value: unknown): string =>
  typeof value === 'string'
    ? value
    : Array.isArray(value)
      ? `[${value.map(leafText).join(', ')}]`
      : (JSON.stringify(value) ?? String(value));

/**
 * Refuses a groupBy path that no run has: grouping by a misspelt key (`weight_decay` for `weightDecay`) would
 * otherwise put every run in one `null` group without a word. A path that only some runs have is fine: those
 * runs get `null`.
 */
export function checkGroupBy(
  groupBy: readonly string[],
  hyperparameters: ReadonlyArray<Record<string, unknown>>,
): void {
  if (groupBy.length === 0) return;
  const unknown = groupBy.filter((path) => !hyperparameters.some((hp) => valueAt(hp, path.split('.')) !== undefined));
  if (unknown.length === 0) return;
  const known = [...new Set(hyperparameters.flatMap((hp) => hyperparameterPaths(hp)))].sort();
  throw badUserInput(
    `groupBy: no run has the hyper-parameter ${unknown.map((p) => JSON.stringify(p)).join(', ')}; the runs have ${
      known.length === 0 ? 'no hyper-parameters' : known.join(', ')
    }`,
  );
}

/**
 * The short run-filter syntax of `linpath sweep --runs` and of the dashboard's filter box:
 * `all`; comma-separated terms `name~text`, `arch=…`, `dataset=…`, `tag=…` (repeatable), `hp.path=value`,
 * `hp.path!=value`, `hp.path>=n` (also >, <, <=); or a JSON RunFilter as the GraphQL API takes it.
 * Values of hp.… terms are JSON where they parse as JSON, else strings. Pure: runs in Node and the browser.
 */

export interface RunFilterTerms {
  nameContains?: string;
  architecture?: string;
  datasetName?: string;
  tags?: string[];
  hyperparametersContain?: Record<string, unknown>;
  hyperparameters?: Array<{
    path: string;
    eq?: unknown;
    ne?: unknown;
    gt?: number;
    gte?: number;
    lt?: number;
    lte?: number;
  }>;
}

export class RunFilterSyntaxError extends Error {
  override name = 'RunFilterSyntaxError';
}

const TERM = /^(name~|arch=|architecture=|dataset=|tag=|hp\.([\w.-]+)(>=|<=|!=|=|>|<))(.*)$/;
const COMPARISONS = { '>': 'gt', '>=': 'gte', '<': 'lt', '<=': 'lte' } as const;

export function parseRunFilter(value: string): RunFilterTerms {
  const text = value.trim();
  if (text === 'all' || text === '') return {};
  if (text.startsWith('{')) {
    try {
      return JSON.parse(text) as RunFilterTerms;
    } catch (error) {
      throw new RunFilterSyntaxError(`expected a JSON RunFilter, got "${text}" (${(error as Error).message})`);
    }
  }
  const filter: RunFilterTerms = {};
  for (const term of text.split(',').map((t) => t.trim())) {
    const match = TERM.exec(term);
    if (match === null) {
      throw new RunFilterSyntaxError(
        `expected terms like name~text, arch=…, dataset=…, tag=…, hp.path=value or hp.path>=n, got "${term}"`,
      );
    }
    const [, key, hpPath, operator, raw] = match as unknown as [
      string,
      string,
      string | undefined,
      string | undefined,
      string,
    ];
    if (key === 'name~') filter.nameContains = raw;
    else if (key === 'arch=' || key === 'architecture=') filter.architecture = raw;
    else if (key === 'dataset=') filter.datasetName = raw;
    else if (key === 'tag=') filter.tags = [...(filter.tags ?? []), raw];
    else {
      const json = jsonOrString(raw);
      const condition: NonNullable<RunFilterTerms['hyperparameters']>[number] = { path: hpPath! };
      if (operator === '=') condition.eq = json;
      else if (operator === '!=') condition.ne = json;
      else {
        if (typeof json !== 'number')
          throw new RunFilterSyntaxError(`expected a number after ${operator} in "${term}"`);
        condition[COMPARISONS[operator as keyof typeof COMPARISONS]] = json;
      }
      filter.hyperparameters = [...(filter.hyperparameters ?? []), condition];
    }
  }
  return filter;
}

function jsonOrString(raw: string): unknown {
  try {
    return JSON.parse(raw);
  } catch {
    return raw;
  }
}

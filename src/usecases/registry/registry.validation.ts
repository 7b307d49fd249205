import { badUserInput } from '../../errors.js';
import type { CreateRunInput } from './runs.usecases.js';

export function validateRun(input: CreateRunInput) {
  const tags = input.tags ?? [];
  if (tags.length > 64) throw badUserInput(`tags: expected at most 64 tags, got ${tags.length}`);
  for (const tag of tags) validateName('tags', tag, 64);
  if (input.seed != null && !Number.isSafeInteger(input.seed)) {
    throw badUserInput(`seed: expected an integer, got ${input.seed}`);
  }
  return {
    name: validateName('name', input.name),
    architecture: validateOptionalName('architecture', input.architecture) ?? null,
    datasetName: validateOptionalName('datasetName', input.datasetName) ?? null,
    hyperparameters: input.hyperparameters ?? {},
    seed: input.seed ?? null,
    tags: [...new Set(tags)],
    reportedMetrics: input.reportedMetrics ?? {},
  };
}

export function validateStep(step: number): number {
  if (!Number.isSafeInteger(step) || step < 0) throw badUserInput(`step: expected an integer ≥ 0, got ${step}`);
  return step;
}

/** Names (runs, datasets, tags, architectures): printable, trimmed, bounded. */
export function validateName(field: string, value: string, max = 200): string {
  // eslint-disable-next-line no-control-regex -- control characters are exactly what names may not hold
  if (value.length === 0 || value.length > max || value.trim() !== value || /[\u0000-\u001f\u007f]/.test(value)) {
    throw badUserInput(
      `${field}: expected 1 to ${max} printable characters without leading or trailing spaces, got ${JSON.stringify(value.slice(0, max + 20))}`,
    );
  }
  return value;
}

export function validateOptionalName(field: string, value: string | null | undefined): string | undefined {
  return value == null ? undefined : validateName(field, value);
}

export function validateTensorKey(field: string, value: string): string {
  return validateName(field, value, 1000);
}

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

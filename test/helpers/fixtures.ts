import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it, type TestOptions } from 'vitest';
import type {} from './fixture-meta.js';

/**
 * Where the PyTorch-made reference fixtures are found (docs/development.md#reference-fixtures). A fixture named
 * `mlp/final.safetensors` is looked up, first hit wins, in
 *  1. `$LINPATH_FIXTURES` when set (a relative value is taken from the repository root; `.ci/run` sets
 *     `../shared/fixtures`),
 *  2. `test/fixtures/` (committed: the small MLP fixture),
 *  3. `test/fixtures/generated/` (git-ignored: what `npm run fixtures` writes, the ResNet-18 fixture).
 * A test whose fixtures are absent is skipped with the reason (`describeWithFixtures`), which
 * test/setup/fixture-skips.ts prints once at the end of the run; under CI (`CI=true`) it fails instead.
 */

export const REPOSITORY_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** The folders searched for a fixture, in order. */
export function fixtureRoots(): string[] {
  const fromEnv = process.env['LINPATH_FIXTURES'];
  const roots = [path.join(REPOSITORY_ROOT, 'test/fixtures'), path.join(REPOSITORY_ROOT, 'test/fixtures/generated')];
  return fromEnv === undefined || fromEnv === '' ? roots : [path.resolve(REPOSITORY_ROOT, fromEnv), ...roots];
}

function locate(relative: string): string | undefined {
  return fixtureRoots()
    .map((root) => path.join(root, relative))
    .find((candidate) => existsSync(candidate));
}

/** The path of a fixture; throws (naming where it looked and how to get it) when it is absent. */
export function fixturePath(relative: string): string {
  const found = locate(relative);
  if (found === undefined) {
    throw new Error(`reference fixture ${relative} not found in ${fixtureRoots().join(', ')}; ${HOW_TO_GET}`);
  }
  return found;
}

export function hasFixtures(relatives: readonly string[]): boolean {
  return relatives.every((relative) => locate(relative) !== undefined);
}

const HOW_TO_GET =
  'run `npm run fixtures` (PyTorch) or set LINPATH_FIXTURES to a folder that has them (docs/development.md#reference-fixtures)';

/** A set of fixture files that tests need together, with the name a skip reason gives it. */
export interface FixtureSet {
  name: string;
  files: readonly string[];
}

/** The ResNet-18 fixture (46 MB, not committed): made by `npm run fixtures` or found through LINPATH_FIXTURES. */
export const RESNET18_FIXTURES: FixtureSet = {
  name: 'ResNet-18 reference fixtures (resnet18/)',
  files: [
    'resnet18/init.safetensors.gz',
    'resnet18/final.safetensors.gz',
    'resnet18/test_set.safetensors',
    'resnet18/reference.json',
    'resnet18/reference_logits.safetensors',
  ],
};

/** Whether absent fixtures fail the run instead of skipping tests: under CI (CI=true or 1), every test runs. */
export function fixturesRequired(): boolean {
  const ci = (process.env['CI'] ?? '').toLowerCase();
  return ci !== '' && ci !== 'false' && ci !== '0';
}

/** Why tests needing `set` cannot run here, or undefined when every file of it is found. */
export function missingFixtureReason(set: FixtureSet): string | undefined {
  if (hasFixtures(set.files)) return undefined;
  return `${set.name} not found in ${fixtureRoots()
    .map((root) => path.relative(REPOSITORY_ROOT, root) || '.')
    .join(', ')}: ${HOW_TO_GET}`;
}

function fixtureOptions(set: FixtureSet): { options: TestOptions; failure?: string } {
  const reason = missingFixtureReason(set);
  if (reason === undefined) return { options: {} };
  if (fixturesRequired()) return { options: {}, failure: `CI=true, so absent fixtures fail the run: ${reason}` };
  return { options: { skip: true, meta: { missingFixtures: reason } } };
}

/**
 * A describe block that needs `set`: skipped (with the reason, reported once at the end of the run) when the
 * fixtures are absent, or failed under CI. Read the fixtures in hooks or tests, not in the block's body: the
 * body runs even when the block is skipped.
 */
export function describeWithFixtures(
  set: FixtureSet,
  name: string,
  body: () => void,
  /** `skip`: skipped for another reason (a database mode, say), whatever the fixtures. */
  when: { skip?: boolean } = {},
): void {
  if (when.skip === true) {
    describe.skip(name, body);
    return;
  }
  const { options, failure } = fixtureOptions(set);
  describe(name, options, () => {
    if (failure !== undefined) {
      it('has its reference fixtures', () => {
        throw new Error(failure);
      });
      return;
    }
    body();
  });
}

/** One test that needs `set`, as describeWithFixtures. */
export function itWithFixtures(
  set: FixtureSet,
  name: string,
  body: () => Promise<void> | void,
  timeout?: number,
): void {
  const { options, failure } = fixtureOptions(set);
  it(name, { ...options, ...(timeout === undefined ? {} : { timeout }) }, async () => {
    if (failure !== undefined) throw new Error(failure);
    await body();
  });
}

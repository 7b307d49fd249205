import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { TEST_TIERS } from '../tiers.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

function testFiles(dir = 'test'): string[] {
  return readdirSync(path.join(ROOT, dir), { withFileTypes: true }).flatMap((entry) => {
    const file = `${dir}/${entry.name}`;
    if (entry.isDirectory()) return testFiles(file);
    return entry.name.endsWith('.ts') && entry.name.includes('.test') ? [file] : [];
  });
}

// The globs of test/tiers.ts: "**/" matches any folders (or none), "*" any characters within one name.
const globToRegExp = (glob: string): RegExp =>
  new RegExp(
    `^${glob
      .replace(/[.]/g, '\\.')
      .replace(/\*\*\//g, '§')
      .replace(/\*/g, '[^/]*')
      .replace(/§/g, '(?:[^/]+/)*')}$`,
  );

const tiersOf = (file: string): string[] =>
  TEST_TIERS.filter(
    (tier) =>
      tier.include.some((glob) => globToRegExp(glob).test(file)) &&
      !tier.exclude.some((glob) => globToRegExp(glob).test(file)),
  ).map((tier) => tier.name);

describe('test tiers', () => {
  it('reads the globs as vitest does', () => {
    expect(tiersOf('test/errors.test.ts')).toEqual(['unit']);
    expect(tiersOf('test/domain/ids.test.ts')).toEqual(['unit']);
    expect(tiersOf('test/graphql/inputs.fuzz.int.test.ts')).toEqual(['int']);
    expect(tiersOf('test/e2e/cli.e2e.test.ts')).toEqual(['e2e']);
    expect(tiersOf('test/browser/dashboard.browser.test.ts')).toEqual(['e2e']);
    expect(tiersOf('test/helpers/server.ts')).toEqual([]);
  });

  it('puts every test file in exactly one tier, named by its suffix', () => {
    const files = testFiles();
    expect(files.length).toBeGreaterThan(50);
    expect(files.filter((file) => tiersOf(file).length !== 1)).toEqual([]);
    // A misspelt suffix (".int.tests.ts", ".test.tsx") would escape every tier.
    expect(files.filter((file) => !file.endsWith('.test.ts'))).toEqual([]);
  });

  it('are the tiers docs/development.md gives, with the same files and the same words', () => {
    const page = readFileSync(path.join(ROOT, 'docs/development.md'), 'utf8');
    const section = page.slice(page.indexOf('## Test tiers'), page.indexOf('\n## ', page.indexOf('## Test tiers') + 1));
    const rows = [...section.matchAll(/^\| `(\w+)` \| (.+?) \| (.+?) \|$/gm)].map((m) => ({
      name: m[1]!,
      files: [...m[2]!.matchAll(/`([^`]+)`/g)].map((f) => f[1]!),
      description: m[3]!,
    }));
    expect(rows.map((row) => row.name)).toEqual(TEST_TIERS.map((tier) => tier.name));
    for (const tier of TEST_TIERS) {
      const row = rows.find((r) => r.name === tier.name)!;
      expect(row.description, tier.name).toBe(tier.description);
      expect(row.files, tier.name).toEqual(tier.include.map((glob) => path.posix.basename(glob)));
    }
  });
});

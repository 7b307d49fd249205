import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  REPOSITORY_ROOT,
  RESNET18_FIXTURES,
  fixturePath,
  fixtureRoots,
  fixturesRequired,
  missingFixtureReason,
} from '../helpers/fixtures.js';

/**
 * The reference fixtures are found one way (test/helpers/fixtures.ts, docs/development.md#reference-fixtures), so
 * that `npm test` passes on a fresh clone: the committed MLP fixture always, the ResNet-18 one when it is there.
 */

function sourceFiles(dir: string, suffixes: readonly string[]): string[] {
  return readdirSync(path.join(REPOSITORY_ROOT, dir), { withFileTypes: true }).flatMap((entry) => {
    const file = `${dir}/${entry.name}`;
    if (entry.isDirectory()) return entry.name === 'fixtures' ? [] : sourceFiles(file, suffixes);
    return suffixes.some((suffix) => entry.name.endsWith(suffix)) ? [file] : [];
  });
}

const read = (file: string) => readFileSync(path.join(REPOSITORY_ROOT, file), 'utf8');

describe('reference fixtures', () => {
  const saved = { fixtures: process.env['LINPATH_FIXTURES'], ci: process.env['CI'] };
  const restore = (name: string, value: string | undefined) => {
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  };
  afterEach(() => {
    restore('LINPATH_FIXTURES', saved.fixtures);
    restore('CI', saved.ci);
  });

  it('are read through test/helpers/fixtures.ts, never from a path beside the checkout', () => {
    const offenders = [...sourceFiles('test', ['.ts']), ...sourceFiles('bench', ['.mjs', '.py'])].filter(
      (file) => file !== 'test/helpers/fixtures.ts' && /shared\/fixtures/.test(read(file)),
    );
    expect(offenders).toEqual([]);
  });

  it('the ResNet-18 ones only by tests that skip (or fail under CI) without them', () => {
    const resnetFixture =
      /resnet18\/(?:init\.safetensors\.gz|final\.safetensors\.gz|test_set\.safetensors|reference\.json|reference_logits\.safetensors)|readResnet18Subset\(/;
    const offenders = sourceFiles('test', ['.test.ts']).filter((file) => {
      const text = read(file);
      return resnetFixture.test(text) && !/(?:describe|it)WithFixtures\(\s*RESNET18_FIXTURES/.test(text);
    });
    expect(offenders).toEqual([]);
  });

  it('are looked up in LINPATH_FIXTURES (from the repository root), then test/fixtures, then test/fixtures/generated', () => {
    delete process.env['LINPATH_FIXTURES'];
    const committed = path.join(REPOSITORY_ROOT, 'test/fixtures');
    expect(fixtureRoots()).toEqual([committed, path.join(committed, 'generated')]);
    expect(fixturePath('mlp/final.safetensors')).toBe(path.join(committed, 'mlp/final.safetensors'));

    process.env['LINPATH_FIXTURES'] = '../elsewhere/fixtures';
    expect(fixtureRoots()[0]).toBe(path.resolve(REPOSITORY_ROOT, '../elsewhere/fixtures'));

    const dir = mkdtempSync(path.join(tmpdir(), 'linpath-fixtures-'));
    try {
      mkdirSync(path.join(dir, 'mlp'));
      writeFileSync(path.join(dir, 'mlp/final.safetensors'), 'another');
      process.env['LINPATH_FIXTURES'] = dir;
      expect(fixturePath('mlp/final.safetensors')).toBe(path.join(dir, 'mlp/final.safetensors'));
      // What the folder lacks comes from the next one.
      expect(fixturePath('mlp/init.safetensors')).toBe(path.join(committed, 'mlp/init.safetensors'));
      expect(() => fixturePath('mlp/absent.safetensors')).toThrow(
        new RegExp(`reference fixture mlp/absent.safetensors not found in ${dir}, .*npm run fixtures`),
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('missing, give a reason that says where they were looked for and how to get them', () => {
    process.env['LINPATH_FIXTURES'] = '../nowhere';
    const reason = missingFixtureReason({ name: 'absent fixtures', files: ['mlp/final.safetensors', 'x/y.bin'] });
    expect(reason).toBe(
      'absent fixtures not found in ../nowhere, test/fixtures, test/fixtures/generated: run `npm run fixtures` ' +
        '(PyTorch) or set LINPATH_FIXTURES to a folder that has them (docs/development.md#reference-fixtures)',
    );
    expect(missingFixtureReason({ name: 'mlp', files: ['mlp/final.safetensors', 'mlp/reference.json'] })).toBe(
      undefined,
    );
    expect(RESNET18_FIXTURES.files.every((file) => file.startsWith('resnet18/'))).toBe(true);
  });

  it('missing, fail the run under CI', () => {
    for (const [value, required] of [
      [undefined, false],
      ['', false],
      ['false', false],
      ['0', false],
      ['true', true],
      ['1', true],
    ] as const) {
      restore('CI', value);
      expect(fixturesRequired(), `CI=${value}`).toBe(required);
    }
  });
});

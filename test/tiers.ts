/**
 * The test tiers, by file-name suffix: the one definition that vitest.config.ts (its projects and the
 * test:unit, test:int, test:e2e scripts) uses and that docs/development.md documents (test/structure/tiers.test.ts
 * keeps both in step, and every test file in exactly one tier).
 */
export interface TestTier {
  /** The vitest project, run alone by `npm run test:<name>`. */
  name: 'unit' | 'int' | 'e2e';
  /** Globs of its files, relative to the repository. */
  include: string[];
  exclude: string[];
  /** What its tests may use, as docs/development.md says it. */
  description: string;
}

export const TEST_TIERS: readonly TestTier[] = [
  {
    name: 'unit',
    include: ['test/**/*.test.ts'],
    exclude: ['test/**/*.int.test.ts', 'test/**/*.e2e.test.ts', 'test/**/*.browser.test.ts'],
    description:
      'pure logic and numbers: domain math, codecs, engines against the PyTorch fixtures; no database, no S3 server',
  },
  {
    name: 'int',
    include: ['test/**/*.int.test.ts'],
    exclude: [],
    description: 'use cases and adapters on real Postgres (DATABASE_URL) or PGlite and a real S3 server over HTTP',
  },
  {
    name: 'e2e',
    include: ['test/**/*.e2e.test.ts', 'test/**/*.browser.test.ts'],
    exclude: [],
    description: 'the built CLI and server as a user runs them, over HTTP and WebSocket; the dashboard in Chromium',
  },
];

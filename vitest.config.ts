import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import swc from 'unplugin-swc';
import { defineConfig } from 'vitest/config';
import { FixtureSkipReporter } from './test/setup/fixture-skips.js';
import { TEST_TIERS } from './test/tiers.js';

// SWC compiles the tests so type-graphql's decorators get their emitted metadata, as tsc gives the build.
export default defineConfig({
  plugins: [swc.vite({ module: { type: 'es6' } })],
  // One graphql for everything, as under Node: type-graphql and Apollo load its CommonJS build, and source
  // files that call graphql (instanceof checks, GraphQLError for graphql-ws) must get the same one, not the .mjs.
  resolve: { alias: [{ find: /^graphql$/, replacement: createRequire(import.meta.url).resolve('graphql') }] },
  test: {
    globalSetup: ['test/setup/global-setup.ts'],
    // Tests skipped for absent reference fixtures (test/helpers/fixtures.ts) are explained once at the end.
    reporters: ['default', new FixtureSkipReporter()],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // vitest's default is one worker fewer than CPUs: one on CI's two cores, so every file ran after the other
    // while the end-to-end files mostly wait on their child servers and CLI processes. Two at least.
    maxWorkers: Math.max(2, availableParallelism() - 1),
    // The AWS SDK warns on Node 20 about releases after January 2027; the suite pins one that supports it.
    env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
    // One project per tier (test/tiers.ts): `npm test` runs them all, `npm run test:<tier>` one.
    projects: TEST_TIERS.map((tier) => ({
      extends: true,
      test: { name: tier.name, include: tier.include, exclude: tier.exclude },
    })),
  },
});

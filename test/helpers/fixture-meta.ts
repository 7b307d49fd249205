/** The test metadata that test/helpers/fixtures.ts sets and test/setup/fixture-skips.ts reports. */
declare module 'vitest' {
  interface TaskMeta {
    /** Why the test was skipped: its reference fixtures are absent (set by describeWithFixtures). */
    missingFixtures?: string;
  }
}

export {};

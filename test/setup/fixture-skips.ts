import type { Reporter, TestModule } from 'vitest/node';
import type {} from '../helpers/fixture-meta.js';

/**
 * Prints, once at the end of the run, why tests were skipped for absent reference fixtures
 * (test/helpers/fixtures.ts sets the reason as the tests' `missingFixtures` meta): each reason once, with the
 * files and how many of their tests it skipped. Silent when nothing was skipped for that.
 */
export class FixtureSkipReporter implements Reporter {
  onTestRunEnd(testModules: ReadonlyArray<TestModule>): void {
    const byReason = new Map<string, Map<string, number>>();
    for (const module of testModules) {
      for (const test of module.children.allTests('skipped')) {
        const reason = test.meta().missingFixtures;
        if (reason === undefined) continue;
        const files = byReason.get(reason) ?? new Map<string, number>();
        files.set(module.relativeModuleId, (files.get(module.relativeModuleId) ?? 0) + 1);
        byReason.set(reason, files);
      }
    }
    for (const [reason, files] of byReason) {
      const total = [...files.values()].reduce((a, b) => a + b, 0);
      const lines = [
        '',
        ` Skipped ${total} test${total === 1 ? '' : 's'} in ${files.size} file${files.size === 1 ? '' : 's'}: ${reason}`,
        ...[...files].sort(([a], [b]) => a.localeCompare(b)).map(([file, count]) => `   ${file} (${count})`),
        '',
      ];
      process.stdout.write(lines.join('\n'));
    }
  }
}

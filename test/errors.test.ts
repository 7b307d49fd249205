import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../src/errors.js';
import { EXIT_CODES } from '../src/cli/exit-codes.js';

/** Codes Apollo Server or the HTTP layer set, documented beside linpath's own. */
const TRANSPORT_CODES = ['GRAPHQL_PARSE_FAILED', 'GRAPHQL_VALIDATION_FAILED', 'BAD_REQUEST'];

const page = (name: string) => readFileSync(new URL(`../docs/${name}`, import.meta.url), 'utf8');

describe('error codes', () => {
  /** Rows of docs/error-codes.md: `| \`CODE\` | exit status or — | when |`. */
  const rows = [...page('error-codes.md').matchAll(/^\| `([A-Z_]+)` \| ([0-9]+|—) \|/gm)].map((m) => ({
    code: m[1]!,
    exit: m[2]!,
  }));
  const documented = rows.map((row) => row.code);

  it('the docs table and the code list agree both ways', () => {
    expect(documented.filter((code) => !TRANSPORT_CODES.includes(code)).sort()).toEqual(
      Object.values(ErrorCode).sort(),
    );
    expect(documented).toEqual(expect.arrayContaining(TRANSPORT_CODES));
  });

  it('every code has a distinct CLI exit status, the one the docs table gives', () => {
    expect(new Set(Object.values(EXIT_CODES)).size).toBe(Object.values(ErrorCode).length);
    for (const { code, exit } of rows) {
      expect(exit, code).toBe(TRANSPORT_CODES.includes(code) ? '—' : String(EXIT_CODES[code as ErrorCode]));
    }
  });

  it('the command-line page names the exit statuses of the common codes', () => {
    const cli = page('cli.md');
    for (const code of ['BAD_USER_INPUT', 'NOT_FOUND', 'CONFLICT', 'UNAVAILABLE'] as const) {
      expect(cli).toContain(`${EXIT_CODES[code]} \`${code}\``);
    }
  });
});

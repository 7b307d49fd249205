import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../src/errors.js';
import { EXIT_CODES } from '../src/main.js';

/** Codes Apollo Server or the HTTP layer set, documented beside linpath's own. */
const TRANSPORT_CODES = ['GRAPHQL_PARSE_FAILED', 'GRAPHQL_VALIDATION_FAILED', 'BAD_REQUEST'];

describe('error codes', () => {
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
  const section = readme.slice(
    readme.indexOf('## Error codes'),
    readme.indexOf('\n## ', readme.indexOf('## Error codes') + 1),
  );
  const documented = [...section.matchAll(/^\| `([A-Z_]+)` \|/gm)].map((m) => m[1]);

  it('the README table and the code list agree both ways', () => {
    expect(documented.filter((code) => !TRANSPORT_CODES.includes(code!)).sort()).toEqual(
      Object.values(ErrorCode).sort(),
    );
    expect(documented).toEqual(expect.arrayContaining(TRANSPORT_CODES));
  });

  it('every code has a distinct CLI exit status, and the README names them', () => {
    expect(new Set(Object.values(EXIT_CODES)).size).toBe(Object.values(ErrorCode).length);
    for (const code of ['BAD_USER_INPUT', 'NOT_FOUND', 'CONFLICT', 'UNAVAILABLE'] as const) {
      expect(readme).toContain(`${EXIT_CODES[code]} \`${code}\``);
    }
  });
});

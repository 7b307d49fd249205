import { describe, expect, it } from 'vitest';
import { isUuid } from '../../src/domain/ids.js';

describe('isUuid', () => {
  it('accepts 8-4-4-4-12 hex digits in either case', () => {
    expect(isUuid('0b6f2c9e-3f1a-4c2e-9d7b-5a1e2f3c4d5e')).toBe(true);
    expect(isUuid('0B6F2C9E-3F1A-4C2E-9D7B-5A1E2F3C4D5E')).toBe(true);
    expect(isUuid('00000000-0000-0000-0000-000000000000')).toBe(true);
  });

  it('refuses what Postgres would refuse for a uuid column, and the forms it would take but linpath never writes', () => {
    for (const id of [
      '',
      'run-1',
      '0b6f2c9e-3f1a-4c2e-9d7b-5a1e2f3c4d5',
      '0b6f2c9e-3f1a-4c2e-9d7b-5a1e2f3c4d5eX',
      ' 0b6f2c9e-3f1a-4c2e-9d7b-5a1e2f3c4d5e',
      '0b6f2c9e-3f1a-4c2e-9d7b-5a1e2f3c4d5e\n',
      '0b6f2c9e3f1a4c2e9d7b5a1e2f3c4d5e',
      '{0b6f2c9e-3f1a-4c2e-9d7b-5a1e2f3c4d5e}',
      '0b6f2c9g-3f1a-4c2e-9d7b-5a1e2f3c4d5e',
    ]) {
      expect(isUuid(id), JSON.stringify(id)).toBe(false);
    }
  });
});

import { describe, expect, it } from 'vitest';
import { parseAlphas } from '../../src/cli/path.command.js';

describe('parseAlphas', () => {
  it('reads lists and start:stop:step ranges without drift', () => {
    expect(parseAlphas('0,0.5,1')).toEqual([0, 0.5, 1]);
    expect(parseAlphas('-0.5, 1.5')).toEqual([-0.5, 1.5]);
    expect(parseAlphas('0:1:0.1')).toEqual(Array.from({ length: 11 }, (_, i) => i / 10));
    expect(parseAlphas('0:1:0.05')).toHaveLength(21);
    expect(parseAlphas('-1:2:0.5')).toEqual([-1, -0.5, 0, 0.5, 1, 1.5, 2]);
  });

  it.each(['', '0,,1', '0,x', '1:0:0.1', '0:1:0', '0:1000000:0.001'])('refuses %j', (value) => {
    expect(() => parseAlphas(value)).toThrow(/expected/);
  });
});

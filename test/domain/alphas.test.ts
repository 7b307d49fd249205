import { describe, expect, it } from 'vitest';
import { AlphaSyntaxError, MAX_ALPHA_LIST, parseAlphaList } from '../../src/domain/alphas.js';

describe('parseAlphaList', () => {
  it('reads comma-separated numbers, spaces anywhere around them', () => {
    expect(parseAlphaList('0,0.5,1')).toEqual([0, 0.5, 1]);
    expect(parseAlphaList(' -0.5 ,  1.5 ')).toEqual([-0.5, 1.5]);
    expect(parseAlphaList('1e-1, .25, +1, 2.')).toEqual([0.1, 0.25, 1, 2]);
    expect(parseAlphaList('0.3')).toEqual([0.3]);
  });

  it('sorts and drops repeats (−0 is 0), as the server stores points', () => {
    expect(parseAlphaList('1, 0, 0.5, 0.5, -0')).toEqual([0, 0.5, 1]);
    expect(Object.is(parseAlphaList('-0')[0], 0)).toBe(true);
  });

  it('reads inclusive start:stop:step ranges without drift', () => {
    expect(parseAlphaList('0:1:0.1')).toEqual(Array.from({ length: 11 }, (_, i) => i / 10));
    expect(parseAlphaList('0 : 1 : 0.25')).toEqual([0, 0.25, 0.5, 0.75, 1]);
    expect(parseAlphaList('-1:2:0.5')).toEqual([-1, -0.5, 0, 0.5, 1, 1.5, 2]);
    expect(parseAlphaList('0.01:0.41:0.02')).toHaveLength(21);
    expect(parseAlphaList('0.01:0.41:0.02').at(-1)).toBe(0.41);
    expect(parseAlphaList('0:1:0.3')).toEqual([0, 0.3, 0.6, 0.9]);
    expect(parseAlphaList('0.5:0.5:1')).toEqual([0.5]);
  });

  it.each([
    ['', /comma-separated numbers/],
    ['0,,1', /comma-separated numbers/],
    ['0,x', /comma-separated numbers/],
    ['0x10', /comma-separated numbers/],
    ['Infinity', /comma-separated numbers/],
    ['1e400', /comma-separated numbers/],
    ['0;1', /comma-separated numbers/],
    ['0:1', /comma-separated numbers/],
    ['1:0:0.1', /step > 0 and stop ≥ start/],
    ['0:1:0', /step > 0 and stop ≥ start/],
    ['0:1:-0.1', /step > 0 and stop ≥ start/],
    ['0:1000000:0.001', /at most 100000 values/],
  ])('refuses %j with a message naming what it expected', (text, message) => {
    expect(() => parseAlphaList(text)).toThrow(AlphaSyntaxError);
    expect(() => parseAlphaList(text)).toThrow(message);
  });

  it('takes up to MAX_ALPHA_LIST values and no more', () => {
    expect(parseAlphaList(`0:${MAX_ALPHA_LIST - 1}:1`)).toHaveLength(MAX_ALPHA_LIST);
    expect(() => parseAlphaList(`0:${MAX_ALPHA_LIST}:1`)).toThrow(/at most/);
    const list = Array.from({ length: MAX_ALPHA_LIST + 1 }, (_, i) => String(i)).join(',');
    expect(() => parseAlphaList(list)).toThrow(/at most/);
  });
});

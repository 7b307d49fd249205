import { describe, expect, it } from 'vitest';
import { checkEndpoint, label, parseEndpoint } from '../../src/usecases/paths/endpoint-selectors.js';

describe('end-point selectors', () => {
  it('reads the command-line forms', () => {
    expect(parseEndpoint('initial')).toEqual({ role: 'INITIAL' });
    expect(parseEndpoint('FINAL@300')).toEqual({ role: 'FINAL', step: 300 });
    expect(parseEndpoint('step:100')).toEqual({ role: 'INTERMEDIATE', step: 100 });
    expect(parseEndpoint('run:resnet:seed-1:initial')).toEqual({ run: 'resnet:seed-1', role: 'INITIAL' });
    expect(parseEndpoint('run:other:intermediate@5')).toEqual({ run: 'other', role: 'INTERMEDIATE', step: 5 });
    expect(parseEndpoint('random:7')).toEqual({ randomSeed: 7 });
    for (const bad of ['start', 'step:', 'random:-1', 'run:x:middle', 'final@x'])
      expect(() => parseEndpoint(bad)).toThrow(
        `expected initial, intermediate, final (optionally @step), step:<n>, run:<name>:<role>[@step] or random:<seed>, got "${bad}"`,
      );
  });

  it('checks a selector into one kind, the side giving the default role', () => {
    expect(checkEndpoint('from', undefined, 'INITIAL')).toEqual({ kind: 'own', role: 'INITIAL', step: null });
    expect(checkEndpoint('to', 'FINAL', 'FINAL')).toEqual({ kind: 'own', role: 'FINAL', step: null });
    expect(checkEndpoint('from', { step: 20 }, 'INITIAL')).toEqual({ kind: 'own', role: 'INTERMEDIATE', step: 20 });
    expect(checkEndpoint('from', { run: 'b' }, 'INITIAL')).toEqual({
      kind: 'other',
      run: 'b',
      role: 'INITIAL',
      step: null,
    });
    expect(checkEndpoint('from', { randomSeed: 0 }, 'INITIAL')).toEqual({ kind: 'random', seed: 0 });
    expect(() => checkEndpoint('to', { role: 'MIDDLE' as never }, 'FINAL')).toThrow(
      'to.role: expected INITIAL, INTERMEDIATE or FINAL, got MIDDLE',
    );
    expect(() => checkEndpoint('from', { run: ' ' }, 'INITIAL')).toThrow('from.run: expected a run name, got ""');
    expect(label(checkEndpoint('from', { run: 'b', step: 3 }, 'INITIAL'))).toBe('run "b" INTERMEDIATE@3');
  });
});

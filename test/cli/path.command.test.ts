import { describe, expect, it } from 'vitest';
import { formatPathTable, parseAlphas, pathToJson, progressBar } from '../../src/cli/path.command.js';
import type { PathResult } from '../../src/usecases/paths/paths.usecases.js';

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

describe('progressBar', () => {
  /** A stream that records what is written; a terminal or not. */
  const stream = (isTTY: boolean) => {
    const written: string[] = [];
    return {
      written,
      stream: { isTTY, write: (text: string) => void written.push(text) } as unknown as NodeJS.WriteStream,
    };
  };

  it('draws on a terminal and clears the line when done', () => {
    const { written, stream: tty } = stream(true);
    const bar = progressBar(tty);
    bar.update(0, 4);
    bar.update(1, 4);
    bar.update(4, 4); // finished: nothing more to draw
    bar.done();
    expect(written).toEqual([
      `\r[${'.'.repeat(30)}] 0/4 points`,
      `\r[${'#'.repeat(8)}${'.'.repeat(22)}] 1/4 points`,
      '\r\x1b[K',
    ]);
  });

  it('writes nothing when stderr is not a terminal (logs, CI), nor clears a bar never drawn', () => {
    const { written, stream: pipe } = stream(false);
    const bar = progressBar(pipe);
    bar.update(1, 4);
    bar.done();
    expect(written).toEqual([]);
    const { written: tty, stream: terminal } = stream(true);
    progressBar(terminal).done();
    expect(tty).toEqual([]);
  });
});

describe('linpath path output', () => {
  // A curve over 4 examples whose loss rises from 1 to 2 at α = 0.5 and ends at 0.5: a barrier of Frankle
  // height 2 − (1 + 0.5)/2 = 1.25, a rise above both end points of 2 − max(1, 0.5) = 1 and above the start of
  // 2 − 1 = 1, by hand.
  const point = (alpha: number, loss: number, correct: number) =>
    ({
      pathId: 'p',
      alpha,
      lossSum: loss * 4,
      correct,
      n: 4,
      nonFinite: 0,
      engine: 'onnx',
      engineVersion: 'onnx 1',
      durationMs: 1,
      evaluations: 1,
      chosenBy: 'GRID',
      createdAt: new Date(0),
      cached: true,
    }) as PathResult['points'][number];
  const result = {
    path: { id: 'p', blocks: null, exampleCount: 4, movingTensorCount: 6 },
    points: [point(0, 1, 2), point(0.5, 2, 1), point(1, 0.5, 4)],
    status: 'COMPLETE',
    progress: { done: 3, total: 3 },
    failure: null,
  } as unknown as PathResult;

  it('gives the shape and barrier of the loss and error curves in JSON', () => {
    const { barrier } = pathToJson(result);
    expect(barrier.loss).toEqual({
      shape: 'BARRIER',
      rise: 1,
      riseAboveStart: 1,
      frankleHeight: 1.25,
      mliDelta: 1,
      alphaAtMax: 0.5,
      monotonic: false,
    });
    // Error 0.5, 0.75, 0: a barrier of 0.75 − 0.25 = 0.5 above the mean of the end points, 0.75 − 0.5 = 0.25 above
    // the higher one.
    expect(barrier.error).toMatchObject({ shape: 'BARRIER', rise: 0.25, frankleHeight: 0.5, alphaAtMax: 0.5 });
  });

  it('says how each α was chosen, and where a refinement stands', () => {
    const refined = {
      ...result,
      points: [result.points[0]!, { ...result.points[1]!, chosenBy: 'REFINEMENT' }, result.points[2]!],
      refinement: {
        status: 'CONVERGED',
        tolerance: 0.001,
        maxPoints: 64,
        peaks: [{ curve: 'LOSS', alpha: 0.5, value: 2 }],
      },
    } as PathResult;
    expect(pathToJson(refined).points.map((p) => p.chosenBy)).toEqual(['GRID', 'REFINEMENT', 'GRID']);
    expect(pathToJson(refined).refinement?.status).toBe('CONVERGED');
    const lines = formatPathTable(refined).trimEnd().split('\n');
    expect(lines[1]).toMatch(/^\s*alpha\s+loss\s+accuracy\s+correct\s+point\s+chosen\s+engine$/);
    expect(lines.slice(2, 5).map((line) => line.split(/\s+/).at(-3))).toEqual(['grid', 'refined', 'grid']);
    expect(lines.at(-1)).toBe(
      'refinement: CONVERGED (tolerance 0.001, at most 64 points), peaks: loss 2.000000 at α 0.500000',
    );
    expect(pathToJson(result).refinement).toBeUndefined();
  });

  it('prints them under the table', () => {
    const lines = formatPathTable(result).trimEnd().split('\n');
    expect(lines.slice(-2)).toEqual([
      'loss curve: BARRIER, rise 1.000000, rise above start 1.000000, Frankle height 1.250000, α at max 0.5',
      'error curve: BARRIER, rise 0.250000, rise above start 0.250000, Frankle height 0.500000, α at max 0.5',
    ]);
  });
});

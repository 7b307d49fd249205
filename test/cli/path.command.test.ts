import { describe, expect, it } from 'vitest';
import { parseAlphas, progressBar } from '../../src/cli/path.command.js';

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

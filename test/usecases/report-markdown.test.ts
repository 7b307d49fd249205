import { describe, expect, it } from 'vitest';
import { markdownText } from '../../src/usecases/report.usecases.js';

/** User text in the report's Markdown (pure). */
describe('markdownText', () => {
  it('makes run names and titles inert: no HTML, links, images, code, cells or lines of their own', () => {
    const hostile = '<img src=x onerror=alert(1)> [x](javascript:alert(1)) ![i](http://e/x.png) `c` a|b *em*\n# h';
    const text = markdownText(hostile);
    expect(text).not.toMatch(/[<>\n]/);
    expect(text).toBe(
      '&lt;img src=x onerror=alert(1)&gt; \\[x\\](javascript:alert(1)) \\!\\[i\\](http://e/x.png) \\`c\\` a\\|b \\*em\\* \\# h',
    );
    // Ordinary names are left as they are.
    expect(markdownText('resnet20 seed=3 (wd 1e-4)')).toBe('resnet20 seed=3 (wd 1e-4)');
    expect(markdownText('weight_decay = 0.0001')).toBe('weight_decay = 0.0001');
  });
});

import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { githubSlug, headingAnchors, markdownLinks } from '../helpers/markdown.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const read = (file: string) => readFileSync(path.join(root, file), 'utf8');

/** The hand-written Markdown of the repository: the README, every page of docs/, and the folder READMEs. */
const files = [
  'README.md',
  ...readdirSync(path.join(root, 'docs'))
    .filter((name) => name.endsWith('.md'))
    .map((name) => `docs/${name}`),
  'infra/README.md',
  'bench/README.md',
  'demo/README.md',
];

/** Pages written by `linpath study --out`, not reference pages: the index links them, but not as topics. */
const GENERATED_PAGES = /^docs\/study-spiral.*\.md$/;

describe('GitHub-style heading anchors', () => {
  it('lower-cases, drops punctuation and turns spaces into hyphens, as github-slugger does', () => {
    expect(githubSlug('Worked study: the spiral MLP')).toBe('worked-study-the-spiral-mlp');
    expect(githubSlug('Reading, cancelling and retrying')).toBe('reading-cancelling-and-retrying');
    expect(githubSlug('1. The demo')).toBe('1-the-demo');
    expect(githubSlug('`linpath path` and α')).toBe('linpath-path-and-α');
    expect(githubSlug('A -- B')).toBe('a----b');
  });

  it('numbers repeated headings and skips fenced code', () => {
    const anchors = headingAnchors('# Title\n## Query\n```sh\n# not a heading\n```\n## Query\n### [Linked](x.md) `code`\n');
    expect([...anchors]).toEqual(['title', 'query', 'query-1', 'linked-code']);
  });
});

describe('Markdown link extraction', () => {
  it('finds inline links and images outside code, with their titles and angle brackets removed', () => {
    const links = markdownLinks(
      'See [a](a.md#x) and ![img](i.png "title") and [b](<b c.md>).\n`[not](code.md)`\n```\n[no](fence.md)\n```\n',
    );
    expect(links.map((link) => link.target)).toEqual(['a.md#x', 'i.png', 'b c.md']);
    expect(links[0]!.line).toBe(1);
  });
});

describe('links in the README and docs', () => {
  for (const file of files) {
    it(`${file}: every relative link and anchor resolves`, () => {
      const broken: string[] = [];
      for (const { target, line } of markdownLinks(read(file))) {
        if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // http(s), mailto: not fetched (no network in tests)
        const hash = target.indexOf('#');
        const linkPath = decodeURIComponent(hash < 0 ? target : target.slice(0, hash));
        const anchor = hash < 0 ? undefined : decodeURIComponent(target.slice(hash + 1));
        const resolved = linkPath === '' ? file : path.posix.normalize(path.posix.join(path.posix.dirname(file), linkPath));
        const where = `${file}:${line} → ${target}`;
        if (resolved.startsWith('..')) {
          broken.push(`${where}: points outside the repository`);
          continue;
        }
        if (!existsSync(path.join(root, resolved))) {
          broken.push(`${where}: no such file`);
          continue;
        }
        if (anchor === undefined) continue;
        if (!resolved.endsWith('.md') || statSync(path.join(root, resolved)).isDirectory()) {
          broken.push(`${where}: an anchor into a file that is not Markdown`);
          continue;
        }
        if (!headingAnchors(read(resolved)).has(anchor)) broken.push(`${where}: no heading with anchor #${anchor}`);
      }
      expect(broken).toEqual([]);
    });
  }

  it('docs/README.md links every page of docs/', () => {
    const index = new Set(
      markdownLinks(read('docs/README.md')).map(({ target }) => path.posix.join('docs', target.split('#')[0]!)),
    );
    const pages = files.filter((file) => file.startsWith('docs/') && file !== 'docs/README.md');
    expect(pages.filter((page) => !index.has(page) && !GENERATED_PAGES.test(page))).toEqual([]);
  });

  it('the README stays a short entry point (the reference lives in docs/)', () => {
    expect(read('README.md').split('\n').length).toBeLessThanOrEqual(250);
  });
});

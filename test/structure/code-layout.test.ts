import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/** docs/code-layout.md against the tree, so that the page cannot go stale. */
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const PAGE = readFileSync(path.join(ROOT, 'docs/code-layout.md'), 'utf8');

/** Every `code` span of the page that names a path of the repository (a top-level folder, then more). */
const TOP = ['src', 'test', 'web', 'schema', 'migrations', 'bench', 'infra', 'demo', 'bin', 'docs'];
const namedPaths = [...PAGE.matchAll(/`([^`\s]+)`/g)]
  .map((m) => m[1]!)
  .filter((span) => TOP.some((top) => span === `${top}/` || span.startsWith(`${top}/`)));

function folders(dir: string): string[] {
  return readdirSync(path.join(ROOT, dir), { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .flatMap((entry) => {
      const sub = `${dir}/${entry.name}`;
      return [sub, ...folders(sub)];
    });
}

/** A path of the page, possibly with `*` in its last segment, names at least one file or folder. */
function exists(named: string): boolean {
  if (!named.includes('*')) return existsSync(path.join(ROOT, named));
  const dir = path.posix.dirname(named);
  const pattern = new RegExp(`^${path.posix.basename(named).replace(/[.]/g, '\\.').replace(/\*/g, '.*')}$`);
  return existsSync(path.join(ROOT, dir)) && readdirSync(path.join(ROOT, dir)).some((name) => pattern.test(name));
}

describe('docs/code-layout.md', () => {
  it('names paths (the check below has something to check)', () => {
    expect(namedPaths.length).toBeGreaterThan(30);
  });

  it('describes every folder of src/', () => {
    const undescribed = folders('src').filter((folder) => !namedPaths.includes(`${folder}/`));
    expect(undescribed).toEqual([]);
  });

  it('names only paths that exist', () => {
    expect(namedPaths.filter((named) => !exists(named))).toEqual([]);
  });

  it('names only file names (without a folder) that some file of src/ has', () => {
    const files = new Set(
      folders('src')
        .concat('src')
        .flatMap((folder) => readdirSync(path.join(ROOT, folder))),
    );
    const bare = [...PAGE.matchAll(/`([\w.-]+\.(?:ts|js))`/g)].map((m) => m[1]!);
    expect(bare.length).toBeGreaterThan(30);
    expect(bare.filter((name) => !files.has(name))).toEqual([]);
  });

  it('names every top-level file of src/', () => {
    const files = readdirSync(path.join(ROOT, 'src')).filter((name) => name.endsWith('.ts'));
    expect(files.filter((name) => !namedPaths.includes(`src/${name}`))).toEqual([]);
  });
});

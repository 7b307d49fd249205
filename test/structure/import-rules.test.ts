import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

/**
 * The architecture as import rules, checked on the import statements of every src/**\/*.ts (static, type-only,
 * re-exports and dynamic `import()` alike). A unit is a top-level folder of src/ (compute, storage, …) or a
 * top-level file (app.ts, main.ts, errors.ts).
 */
const SRC = fileURLToPath(new URL('../../src/', import.meta.url));

/** Files of src/ by path relative to it ("usecases/paths/paths.usecases.ts"). */
function sourceFiles(dir = SRC): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(full);
    return entry.name.endsWith('.ts') ? [path.relative(SRC, full).split(path.sep).join('/')] : [];
  });
}

interface Imports {
  /** Files of src/ imported, relative to src/. */
  files: string[];
  /** Packages imported ("drizzle-orm", "@aws-sdk/client-s3", "node:fs"). */
  packages: string[];
}

function importsOf(file: string): Imports {
  const text = readFileSync(path.join(SRC, file), 'utf8');
  const specifiers = ts.preProcessFile(text, true, true).importedFiles.map((f) => f.fileName);
  const files: string[] = [];
  const packages: string[] = [];
  for (const specifier of specifiers) {
    if (specifier.startsWith('.')) {
      const target = path.posix.normalize(path.posix.join(path.posix.dirname(file), specifier));
      files.push(target.replace(/\.js$/, '.ts'));
    } else {
      const parts = specifier.split('/');
      packages.push(specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!);
    }
  }
  return { files, packages };
}

const unitOf = (file: string): string => file.split('/')[0]!;

/** Unit → units it imports, without self-edges. */
function unitGraph(files: ReadonlyMap<string, Imports>): Map<string, Set<string>> {
  const graph = new Map<string, Set<string>>();
  for (const [file, { files: targets }] of files) {
    const from = unitOf(file);
    if (!graph.has(from)) graph.set(from, new Set());
    for (const target of targets) {
      const to = unitOf(target);
      if (to !== from) graph.get(from)!.add(to);
    }
  }
  return graph;
}

/** One cycle of the graph as a path [a, b, …, a], or undefined when it has none. */
function findCycle(graph: ReadonlyMap<string, ReadonlySet<string>>): string[] | undefined {
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (node: string): string[] | undefined => {
    if (state.get(node) === 'done') return undefined;
    if (state.get(node) === 'open') return [...stack.slice(stack.indexOf(node)), node];
    state.set(node, 'open');
    stack.push(node);
    for (const next of graph.get(node) ?? []) {
      const cycle = visit(next);
      if (cycle !== undefined) return cycle;
    }
    stack.pop();
    state.set(node, 'done');
    return undefined;
  };
  for (const node of [...graph.keys()].sort()) {
    const cycle = visit(node);
    if (cycle !== undefined) return cycle;
  }
  return undefined;
}

const ALL = new Map(sourceFiles().map((file) => [file, importsOf(file)] as const));

/** "file → target" for every import from a unit in `from` to a file of a unit in `to`. */
function crossings(from: readonly string[], allowed: (target: string) => boolean): string[] {
  return [...ALL].flatMap(([file, { files }]) =>
    from.includes(unitOf(file)) ? files.filter((t) => !allowed(t)).map((t) => `${file} → ${t}`) : [],
  );
}

/** "file imports package" for every import of a package matching `pkg` outside the units in `homes`. */
function packageOutside(pkg: RegExp, homes: readonly string[]): string[] {
  return [...ALL].flatMap(([file, { packages }]) =>
    homes.includes(unitOf(file)) ? [] : packages.filter((p) => pkg.test(p)).map((p) => `${file} imports ${p}`),
  );
}

describe('import rules of src/', () => {
  it('reads the imports it checks (the parser finds known edges)', () => {
    expect(ALL.size).toBeGreaterThan(50);
    expect(ALL.get('app.ts')?.files).toContain('config/config.ts');
    expect(ALL.get('storage/database.ts')?.packages).toContain('drizzle-orm');
    // A dynamic import() counts as an import.
    expect(ALL.get('compute/engines.ts')?.files).toContain('compute/onnx/onnx.engine.ts');
    // Every imported file exists, so a rule cannot pass on a misread path.
    const missing = [...ALL.values()].flatMap(({ files }) => files.filter((f) => !ALL.has(f)));
    expect(missing).toEqual([]);
  });

  it('compute and storage do not import each other (engines take arrays; storage knows no engine)', () => {
    expect(crossings(['compute'], (t) => unitOf(t) !== 'storage')).toEqual([]);
    expect(crossings(['storage'], (t) => unitOf(t) !== 'compute')).toEqual([]);
  });

  it('the queue is the pg-boss adapter: it imports no use case, no storage, no compute', () => {
    expect(crossings(['queue'], (t) => ['queue', 'config', 'errors.ts'].includes(unitOf(t)))).toEqual([]);
  });

  it('domain and formats are pure: they import only themselves (and the error vocabulary)', () => {
    expect(crossings(['domain'], (t) => ['domain', 'errors.ts'].includes(unitOf(t)))).toEqual([]);
    expect(crossings(['formats'], (t) => ['formats', 'errors.ts'].includes(unitOf(t)))).toEqual([]);
    expect(crossings(['errors.ts'], () => false)).toEqual([]);
  });

  it('no cycle between the units of src/', () => {
    expect(findCycle(unitGraph(ALL))).toBeUndefined();
  });

  it('each client library has one home', () => {
    expect(packageOutside(/^(drizzle-orm|@aws-sdk\/.*|@electric-sql\/pglite.*)$/, ['storage', 'embedded'])).toEqual([]);
    expect(packageOutside(/^(@tensorflow\/.*|onnxruntime-node|onnx-proto)$/, ['compute'])).toEqual([]);
    expect(packageOutside(/^pg-boss$/, ['queue'])).toEqual([]);
    expect(packageOutside(/^(type-graphql|@apollo\/server|graphql-ws)$/, ['graphql', 'server'])).toEqual([]);
    expect(packageOutside(/^(express|ws)$/, ['server'])).toEqual([]);
  });

  it('no source file is longer than 400 lines', () => {
    const long = [...ALL.keys()]
      .map((file) => ({ file, lines: readFileSync(path.join(SRC, file), 'utf8').split('\n').length }))
      .filter(({ lines }) => lines > 400);
    expect(long).toEqual([]);
  });
});

describe('findCycle', () => {
  const graph = (edges: Record<string, string[]>) =>
    new Map(Object.entries(edges).map(([k, v]) => [k, new Set(v)] as const));

  it('finds a cycle through several units and names its path', () => {
    expect(findCycle(graph({ a: ['b'], b: ['c'], c: ['a'], d: ['a'] }))).toEqual(['a', 'b', 'c', 'a']);
  });

  it('finds none in a graph without one, diamonds included', () => {
    expect(findCycle(graph({ a: ['b', 'c'], b: ['d'], c: ['d'], d: [] }))).toBeUndefined();
  });
});

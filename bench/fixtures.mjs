import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';

/**
 * Where the benchmarks find the PyTorch reference fixtures: the rule of test/helpers/fixtures.ts
 * (docs/development.md#reference-fixtures). First hit wins: `--fixtures DIR` or `$LINPATH_FIXTURES` (a relative
 * path is taken from the repository root), then test/fixtures/ (the committed MLP fixture), then
 * test/fixtures/generated/ (what `npm run fixtures` writes: the ResNet-18 fixture).
 */

const ROOT = fileURLToPath(new URL('..', import.meta.url));

export const HOW_TO_GET =
  'run `npm run fixtures` (PyTorch) or set LINPATH_FIXTURES to a folder that has them (docs/development.md#reference-fixtures)';

export function fixtureRoots(explicit = process.env.LINPATH_FIXTURES) {
  const roots = [path.join(ROOT, 'test/fixtures'), path.join(ROOT, 'test/fixtures/generated')];
  return explicit === undefined || explicit === '' ? roots : [path.resolve(ROOT, explicit), ...roots];
}

/** The first folder that holds every one of `relatives`, or undefined. */
export function fixtureRoot(relatives, explicit) {
  return fixtureRoots(explicit).find((root) => relatives.every((relative) => existsSync(path.join(root, relative))));
}

/**
 * A reader of safetensors files (gunzipped first when the name ends in `.gz`) on the project's built codec in
 * `dist` (a URL of the build folder): `read(path)` gives the file's tensor headers and their decoded values by
 * name. One reader for every bench, so they decode fixtures exactly as the server does.
 */
export async function safetensorsReader(dist) {
  const { parseSafetensors, tensorBytes } = await import(new URL('formats/safetensors.header.js', dist).href);
  const { decodeTensor } = await import(new URL('formats/safetensors.decode.js', dist).href);
  return (filePath) => {
    const raw = readFileSync(filePath);
    const file = filePath.endsWith('.gz')
      ? new Uint8Array(gunzipSync(raw))
      : new Uint8Array(raw.buffer, raw.byteOffset, raw.length);
    const header = parseSafetensors(file);
    return {
      tensors: header.tensors,
      values: new Map(header.tensors.map((t) => [t.name, decodeTensor(t, tensorBytes(file, header, t))])),
    };
  };
}

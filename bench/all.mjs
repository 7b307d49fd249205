#!/usr/bin/env node
// `npm run bench`: bench/engines.bench.mjs, bench/user-onnx.bench.mjs, bench/blockwise.bench.mjs, then
// bench/landscape.bench.mjs (plane vs path per point, default options), each in
// its own process (each measures with nothing else of its own running). Arguments go to engines.bench.mjs;
// those after `--blockwise` go to blockwise.bench.mjs:
//   npm run bench -- --workload resnet --engines onnx --blockwise --images 100 --alphas 11
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const args = process.argv.slice(2);
const split = args.indexOf('--blockwise');
const engines = split === -1 ? args : args.slice(0, split);
const blockwise = split === -1 ? [] : args.slice(split + 1);
for (const [file, fileArgs] of [
  ['engines.bench.mjs', engines],
  ['user-onnx.bench.mjs', []],
  ['blockwise.bench.mjs', blockwise],
  ['landscape.bench.mjs', []],
]) {
  const { status } = spawnSync(process.execPath, [fileURLToPath(new URL(file, import.meta.url)), ...fileArgs], {
    stdio: 'inherit',
  });
  if (status !== 0) process.exit(status ?? 1);
}

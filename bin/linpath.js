#!/usr/bin/env node
// The `linpath` command (`npx linpath …` in the repo). Runs the compiled CLI; `npm install` builds it.
import { existsSync } from 'node:fs';

const entry = new URL('../dist/main.js', import.meta.url);
if (!existsSync(entry)) {
  process.stderr.write('linpath: not built yet; run `npm run build` (npm install runs it)\n');
  process.exit(1);
}
const { main } = await import(entry.href);
await main();

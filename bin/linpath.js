#!/usr/bin/env node
// The `linpath` command (`npx linpath …` in the repo). Runs the compiled CLI from dist/, which `npm install`
// builds; it rebuilds only when the sources are newer than dist/ and no server runs from it.
import { buildIfStale } from './build-state.js';

buildIfStale();
const { main } = await import(new URL('../dist/main.js', import.meta.url).href);
await main();

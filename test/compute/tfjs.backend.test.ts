import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { buildModelGraph } from '../../src/compute/architectures/index.js';
import { initTfjsBackend, type TfjsBackendName } from '../../src/compute/tfjs/tfjs.backend.js';
import { TfjsEngine } from '../../src/compute/tfjs/tfjs.engine.js';
import { ErrorCode } from '../../src/errors.js';
import { maxAbsDiff, readCheckpointFixture, readTestSetFixture } from '../helpers/engine-fixtures.js';

/** Whether this host has a Node binding for the `tensorflow` backend (none is a dependency of linpath). */
async function hasNodeBinding(): Promise<boolean> {
  for (const specifier of ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node']) {
    try {
      await import(/* @vite-ignore */ specifier);
      return true;
    } catch {
      // not installed
    }
  }
  return false;
}

describe('tfjs backend selection', () => {
  it('runs engines on different backends side by side, created at once in a fresh process', async () => {
    const checkpoint = readCheckpointFixture('mlp/final.safetensors');
    const { x } = readTestSetFixture('mlp/test_set.safetensors', 'x', 'y');
    const graph = buildModelGraph('mlp', checkpoint.tensors);
    // First in the file: neither backend is initialised yet, so both initialise concurrently.
    const [wasm, cpu] = await Promise.all([
      TfjsEngine.create({ backend: 'wasm' }),
      TfjsEngine.create({ backend: 'cpu' }),
    ]);
    expect([wasm.version, cpu.version]).toEqual([`tfjs ${tf.version_core} wasm`, `tfjs ${tf.version_core} cpu`]);
    const onWasm = await (await wasm.prepare(graph)).bind(checkpoint.state);
    const onCpu = await (await cpu.prepare(graph)).bind(checkpoint.state);
    // Interleaved: each call makes its own backend the active one.
    const [a, b, c] = await Promise.all([onWasm.logits(x, 5000), onCpu.logits(x, 5000), onWasm.logits(x, 5000)]);
    expect(maxAbsDiff(a!, b!)).toBeLessThanOrEqual(1e-5);
    expect(c).toEqual(a);
    await Promise.all([wasm.close(), cpu.close()]);
  });

  it('chooses tensorflow where a Node binding is installed, else wasm', async () => {
    const expected: TfjsBackendName = (await hasNodeBinding()) ? 'tensorflow' : 'wasm';
    const engine = await TfjsEngine.create();
    expect(engine.backend).toBe(expected);
    expect(engine.version.startsWith(`tfjs ${tf.version_core} ${expected}`)).toBe(true);
    expect(tf.getBackend()).toBe(expected);
    // Initialised once per process: asking again gives the same answer.
    expect(await initTfjsBackend()).toEqual({ name: engine.backend, version: engine.version });
  });

  it('refuses a forced backend this host cannot run, saying what to install', async () => {
    if (await hasNodeBinding()) return; // nothing to refuse on a host with tfjs-node
    const error = await TfjsEngine.create({ backend: 'tensorflow' }).catch((e: unknown) => e);
    expect(error).toMatchObject({ name: 'LinpathError', code: ErrorCode.UNAVAILABLE });
    expect((error as Error).message).toMatch(
      /^tfjs backend "tensorflow" is not available: neither Node binding could be imported/,
    );
    expect((error as Error).message).toContain('npm install @tensorflow/tfjs-node-gpu@4.22.0');
  });

  it('refuses a backend name it does not know', async () => {
    await expect(TfjsEngine.create({ backend: 'webgl' as TfjsBackendName })).rejects.toMatchObject({
      code: ErrorCode.BAD_USER_INPUT,
      message: 'tfjs backend: expected one of tensorflow, wasm, cpu, got "webgl"',
    });
  });
});

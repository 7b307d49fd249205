import { readFileSync } from 'node:fs';
import { eq } from 'drizzle-orm';
import { checkpointsTable } from '../../src/storage/registry.tables.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Engine, EngineName } from '../../src/compute/engine.js';
import { EngineProvider } from '../../src/compute/engines.js';
import { emptyTally, tallyBatch } from '../../src/domain/losses.js';
import { decodeTensor } from '../../src/formats/safetensors.decode.js';
import { parseSafetensors, tensorBytes } from '../../src/formats/safetensors.header.js';
import type { PathDeps } from '../../src/usecases/paths/paths.deps.js';
import { interpolationPath } from '../../src/usecases/paths/paths.usecases.js';
import {
  getCheckpoint,
  importCheckpointFile,
  registerCheckpoint,
} from '../../src/usecases/registry/checkpoints.usecases.js';
import { importDatasetFile } from '../../src/usecases/registry/datasets.usecases.js';
import { fixturePath } from '../helpers/fixtures.js';
import { createPathDeps, type PathFixture } from '../helpers/paths.js';
import { createRegistryFixture, type RegistryFixture } from '../helpers/registry.js';

const reference = JSON.parse(readFileSync(fixturePath('mlp/reference.json'), 'utf8'));

/** A real engine provider that counts the states bound, i.e. the α-points evaluated. */
class CountingEngines extends EngineProvider {
  binds = 0;
  override async get(name: EngineName): Promise<Engine> {
    const engine = await super.get(name);
    const prepare = engine.prepare.bind(engine);
    return Object.assign(Object.create(engine) as Engine, {
      prepare: async (graph: Parameters<Engine['prepare']>[0]) => {
        const prepared = await prepare(graph);
        return {
          bind: (state: Parameters<typeof prepared.bind>[0]) => {
            this.binds++;
            return prepared.bind(state);
          },
          dispose: () => prepared.dispose(),
        };
      },
    });
  }
}

describe('interpolationPath on the PyTorch MLP fixture', () => {
  let f: RegistryFixture;
  let deps: PathDeps;
  let engines: CountingEngines;
  let evaluation: PathFixture;
  const ids = { init: '', final: '', epoch5: '', test: '' };

  beforeAll(async () => {
    f = await createRegistryFixture();
    const run = { run: 'spiral', architecture: 'mlp' };
    ids.init = (
      await importCheckpointFile(f.deps, fixturePath('mlp/init.safetensors'), {
        ...run,
        step: 0,
        role: 'INITIAL',
      })
    ).checkpoint.id;
    ids.epoch5 = (
      await importCheckpointFile(f.deps, fixturePath('mlp/epoch5.safetensors'), {
        ...run,
        step: 100,
        role: 'INTERMEDIATE',
      })
    ).checkpoint.id;
    // Registered by URI: its sha256 is unknown until an evaluation reads it in full.
    const ref = { bucket: f.store.bucket, key: 'runs/spiral/final.safetensors' };
    await f.s3.uploadFile(ref, fixturePath('mlp/final.safetensors'));
    ids.final = (
      await registerCheckpoint(f.deps, {
        run: 'spiral',
        step: 1200,
        role: 'FINAL',
        uri: `s3://${ref.bucket}/${ref.key}`,
      })
    ).checkpoint.id;
    ids.test = (
      await importDatasetFile(f.deps, fixturePath('mlp/test_set.safetensors'), {
        name: 'spiral',
        split: 'TEST',
      })
    ).dataset.id;

    engines = new CountingEngines({ onnxProvider: 'cpu', threads: 0, tfjsBackend: undefined });
    evaluation = await createPathDeps(f, { engines });
    deps = evaluation.paths;
  });
  afterAll(async () => {
    await evaluation?.close();
    await engines?.close();
    await f?.close();
  });

  /** Accuracy may differ only by the samples the reference lists within 1e-4 of the decision boundary. */
  const expectReference = (
    points: Array<{ alpha: number; lossSum: number; n: number; correct: number }>,
    curve: 'full' | 'full_epoch5',
  ) => {
    expect(points.map((p) => p.alpha)).toEqual(reference.alphas);
    points.forEach((point, i) => {
      const loss = point.lossSum / point.n;
      expect(Math.abs(loss - reference[curve].loss[i]) / reference[curve].loss[i]).toBeLessThan(1e-5);
      const nearBoundary = reference.decision_margins[curve]['count_margin_below_0.0001'][i];
      expect(Math.abs(point.correct - reference[curve].correct[i])).toBeLessThanOrEqual(nearBoundary);
    });
  };

  it('evaluates init → final at the default alphas and matches PyTorch', async () => {
    const result = await interpolationPath(deps, { from: ids.init, to: ids.final, dataset: ids.test });
    expect(result.points).toHaveLength(11);
    expect(result.points.every((p) => !p.cached && p.n === 5000 && p.engine === 'onnx')).toBe(true);
    expect(result.points[0]!.engineVersion).toMatch(/^onnxruntime-node \d+\.\d+\.\d+ cpu/);
    expectReference(result.points, 'full');
    expect(engines.binds).toBe(11);
    // The full read of the final checkpoint recorded its sha256.
    expect((await getCheckpoint(f.deps, ids.final)).sha256).toBe(
      '8aea33bf39915fd5fa8c6b8713dbef8d7ab5c8b6878a2dff90321ddb8dfee4a1',
    );
  });

  it('answers a repeated query from the memo without evaluating anything', async () => {
    const before = engines.binds;
    const result = await interpolationPath(deps, { from: ids.init, to: ids.final, dataset: ids.test });
    expect(engines.binds).toBe(before);
    expect(result.points.every((p) => p.cached)).toBe(true);
    expectReference(result.points, 'full');
  });

  it('evaluates only the alphas that are missing', async () => {
    const before = engines.binds;
    const result = await interpolationPath(deps, {
      from: ids.init,
      to: ids.final,
      dataset: ids.test,
      alphas: [0.5, 0.55, 0, 0.55],
    });
    expect(result.points.map((p) => [p.alpha, p.cached])).toEqual([
      [0, true],
      [0.5, true],
      [0.55, false],
    ]);
    expect(engines.binds).toBe(before + 1);
  });

  it('evaluates identical concurrent requests once', async () => {
    const before = engines.binds;
    const request = { from: ids.init, to: ids.final, dataset: ids.test, alphas: [0.25, 0.75] };
    const [a, b, c] = await Promise.all([
      interpolationPath(deps, request),
      interpolationPath(deps, request),
      interpolationPath(deps, request),
    ]);
    expect(engines.binds).toBe(before + 2);
    expect(b.points.map((p) => p.lossSum)).toEqual(a.points.map((p) => p.lossSum));
    expect(c.path.id).toBe(a.path.id);
  });

  it('matches the init → epoch5 curve too', async () => {
    expectReference(
      (await interpolationPath(deps, { from: ids.init, to: ids.epoch5, dataset: ids.test })).points,
      'full_epoch5',
    );
  });

  it('moves only the named blocks, the others staying at `to`', async () => {
    const fc3 = await interpolationPath(deps, {
      from: ids.init,
      to: ids.final,
      dataset: ids.test,
      blocks: ['fc3'],
      alphas: [0, 1],
    });
    expect(fc3.path.blocks).toEqual(['fc3']);
    expect(fc3.path.movingTensorCount).toBe(2);
    // α = 1 is θ_final whatever moves; α = 0 is θ_final with fc3 at its initial value.
    expect(fc3.points[1]!.lossSum / 5000).toBeCloseTo(reference.full.loss[10], 5);
    expect(fc3.points[0]!.lossSum / 5000).not.toBeCloseTo(reference.full.loss[0], 2);

    // Recompute α = 0 of the fc3 path from the fixture directly: θ_final with fc3.* from init.
    const decode = (file: string) => {
      const bytes = new Uint8Array(readFileSync(fixturePath(file)));
      const header = parseSafetensors(bytes);
      return new Map(
        header.tensors.map((t) => [t.name, decodeTensor(t, tensorBytes(bytes, header, t)) as Float32Array]),
      );
    };
    const init = decode('mlp/init.safetensors');
    const final = decode('mlp/final.safetensors');
    const data = decode('mlp/test_set.safetensors') as unknown as Map<string, Float32Array | Uint8Array>;
    const x = data.get('x') as Float32Array;
    const labels = data.get('y') as Uint8Array;
    const w = (name: string) => (name.startsWith('fc3.') ? init : final).get(name)!;
    const logits = new Float32Array(5000);
    for (let i = 0; i < 5000; i++) {
      let h: number[] = [x[2 * i]!, x[2 * i + 1]!];
      for (const layer of ['fc1', 'fc2', 'fc3']) {
        const weight = w(`${layer}.weight`);
        const bias = w(`${layer}.bias`);
        const out = bias.length;
        const next = Array.from(
          { length: out },
          (_, o) => bias[o]! + h.reduce((s, v, k) => s + v * weight[o * h.length + k]!, 0),
        );
        h = layer === 'fc3' ? next : next.map((v) => Math.max(v, 0));
      }
      logits[i] = h[0]!;
    }
    const expected = tallyBatch(emptyTally(), logits, labels, 1);
    expect(Math.abs(fc3.points[0]!.lossSum - expected.lossSum) / expected.lossSum).toBeLessThan(1e-5);
  });

  it('treats blocks covering every tensor as the whole-model path', async () => {
    const whole = await interpolationPath(deps, { from: ids.init, to: ids.final, dataset: ids.test, alphas: [0.5] });
    const all = await interpolationPath(deps, {
      from: ids.init,
      to: ids.final,
      dataset: ids.test,
      alphas: [0.5],
      blocks: ['fc1', 'fc2', 'fc3'],
    });
    expect(all.path.id).toBe(whole.path.id);
    expect(all.points[0]!.cached).toBe(true);
  });

  it('evaluates a subset with the first `limit` examples', async () => {
    const result = await interpolationPath(deps, {
      from: ids.init,
      to: ids.final,
      dataset: ids.test,
      alphas: [1],
      limit: 1000,
    });
    expect(result.path.exampleCount).toBe(1000);
    expect(result.points[0]!.n).toBe(1000);
    const logits = readLogits(10).subarray(0, 1000);
    const labels = Uint8Array.from({ length: 1000 }, (_, i) => i % 2);
    const expected = tallyBatch(emptyTally(), logits, labels, 1);
    expect(Math.abs(result.points[0]!.lossSum - expected.lossSum) / expected.lossSum).toBeLessThan(1e-5);
  });

  it('computes the same numbers on the TensorFlow.js engine', async () => {
    const result = await interpolationPath(deps, {
      from: ids.init,
      to: ids.final,
      dataset: ids.test,
      alphas: [0.3],
      limit: 2000,
      engine: 'tfjs',
    });
    expect(result.points[0]!.engine).toBe('tfjs');
    const expected = tallyBatch(
      emptyTally(),
      readLogits(3).subarray(0, 2000),
      Uint8Array.from({ length: 2000 }, (_, i) => i % 2),
      1,
    );
    expect(Math.abs(result.points[0]!.lossSum - expected.lossSum) / expected.lossSum).toBeLessThan(1e-5);
  });

  it.each([
    [{ blocks: ['layer9'] }, 'BAD_USER_INPUT', 'blocks: "layer9" names no floating-point tensor of mlp'],
    [{ blocks: [] }, 'BAD_USER_INPUT', 'expected at least one block name'],
    [{ blocks: [''] }, 'BAD_USER_INPUT', 'got an empty name'],
    [{ alphas: [0, 11] }, 'BAD_USER_INPUT', 'alphas: expected numbers from -10 to 10, got 11'],
    [{ alphas: [Number.NaN] }, 'BAD_USER_INPUT', 'got NaN'],
    [{ alphas: [] }, 'BAD_USER_INPUT', 'expected at least one α'],
    [
      { alphas: Array.from({ length: 102 }, (_, i) => i / 200) },
      'BAD_USER_INPUT',
      'at most 101 values (LINPATH_MAX_ALPHAS), got 102',
    ],
    [{ limit: 5001 }, 'BAD_USER_INPUT', 'limit: expected an integer from 1 to 5000'],
    [{ limit: 0 }, 'BAD_USER_INPUT', 'limit: expected an integer from 1 to 5000'],
    [{ from: '00000000-0000-0000-0000-000000000000' }, 'NOT_FOUND', 'from: no checkpoint with id'],
    [{ dataset: 'nope' }, 'NOT_FOUND', 'dataset: no dataset with id "nope"'],
  ])('refuses %j', async (override, code, message) => {
    const before = engines.binds;
    await expect(
      interpolationPath(deps, { from: ids.init, to: ids.final, dataset: ids.test, ...override }),
    ).rejects.toMatchObject({ code, message: expect.stringContaining(message) });
    expect(engines.binds).toBe(before);
  });

  it('refuses end points of different architectures, listing the mismatch', async () => {
    // Import refuses the MLP's tensors as a ResNet (checked before anything is registered) …
    await expect(
      importCheckpointFile(f.deps, fixturePath('mlp/final.safetensors'), {
        run: 'other',
        step: 0,
        role: 'FINAL',
        architecture: 'resnet18-cifar',
      }),
    ).rejects.toMatchObject({
      code: 'BAD_USER_INPUT',
      message: expect.stringMatching(/does not match architecture resnet18-cifar: missing \(\d+\): conv1\.weight/),
    });
    // … so such a row comes only from before that check: registered without one, then set directly.
    const imported = await importCheckpointFile(f.deps, fixturePath('mlp/final.safetensors'), {
      run: 'other',
      step: 0,
      role: 'FINAL',
    });
    await f.database.db
      .update(checkpointsTable)
      .set({ architecture: 'resnet18-cifar' })
      .where(eq(checkpointsTable.id, imported.checkpoint.id));
    const checkpoint = imported.checkpoint;
    await expect(
      interpolationPath(deps, { from: checkpoint.id, to: ids.final, dataset: ids.test }),
    ).rejects.toMatchObject({
      code: 'BAD_USER_INPUT',
      message: expect.stringContaining('from and to must share an architecture'),
    });
    // Registered as a ResNet, the MLP's tensors do not fit the architecture.
    await expect(
      interpolationPath(deps, { from: checkpoint.id, to: checkpoint.id, dataset: ids.test }),
    ).rejects.toMatchObject({
      code: 'BAD_USER_INPUT',
      message: expect.stringMatching(/does not match architecture resnet18-cifar: missing \(\d+\): conv1\.weight/),
    });
  });
});

function readLogits(alphaIndex: number): Float32Array {
  const bytes = new Uint8Array(readFileSync(fixturePath('mlp/reference_logits.safetensors')));
  const header = parseSafetensors(bytes);
  const full = header.tensors.find((t) => t.name === 'full')!;
  const all = decodeTensor(full, tensorBytes(bytes, header, full)) as Float32Array;
  return all.slice(alphaIndex * 5000, (alphaIndex + 1) * 5000);
}

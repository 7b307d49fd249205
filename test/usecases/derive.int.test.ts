import { createRequire } from 'node:module';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/app.js';
import { createLoaders } from '../../src/graphql/loaders.js';
import { buildLinpathSchema } from '../../src/graphql/schema.js';
import { buildModelGraph } from '../../src/compute/architectures/index.js';
import { randomInitialState } from '../../src/compute/random-init.js';
import { interpolateTensor } from '../../src/domain/interpolation.js';
import { decodeTensor } from '../../src/formats/safetensors.decode.js';
import { parseSafetensors, tensorBytes } from '../../src/formats/safetensors.header.js';
import {
  composeCheckpoint,
  createRandomCheckpoint,
  materializeInterpolation,
  type DeriveDeps,
} from '../../src/usecases/derive.usecases.js';
import { interpolationPath } from '../../src/usecases/paths/paths.usecases.js';
import { getCheckpoint, importCheckpointFile } from '../../src/usecases/registry/checkpoints.usecases.js';
import { importDatasetFile } from '../../src/usecases/registry/datasets.usecases.js';
import { readCheckpointFixture } from '../helpers/engine-fixtures.js';
import { fixturePath } from '../helpers/fixtures.js';
import { createPathDeps, type PathFixture } from '../helpers/paths.js';
import { createRegistryFixture, type RegistryFixture } from '../helpers/registry.js';

// type-graphql (loaded by Node) builds its schema with graphql's CommonJS build; execute with the same one.
const { graphql } = createRequire(import.meta.url)('graphql') as typeof import('graphql');

/** Derived checkpoints on a real database and S3 server: content read back from the store, bit for bit. */
describe('derived checkpoints', () => {
  let f: RegistryFixture;
  let evaluation: PathFixture;
  let deps: DeriveDeps;
  const ids = { init: '', final: '', test: '', run: '' };
  const init = readCheckpointFixture('mlp/init.safetensors');
  const final = readCheckpointFixture('mlp/final.safetensors');

  beforeAll(async () => {
    f = await createRegistryFixture();
    const first = await importCheckpointFile(f.deps, fixturePath('mlp/init.safetensors'), {
      run: 'spiral',
      architecture: 'mlp',
      step: 0,
      role: 'INITIAL',
    });
    ids.init = first.checkpoint.id;
    ids.run = first.run.id;
    ids.final = (
      await importCheckpointFile(f.deps, fixturePath('mlp/final.safetensors'), {
        run: 'spiral',
        step: 1200,
        role: 'FINAL',
      })
    ).checkpoint.id;
    ids.test = (
      await importDatasetFile(f.deps, fixturePath('mlp/test_set.safetensors'), {
        name: 'spiral',
        split: 'TEST',
      })
    ).dataset.id;
    evaluation = await createPathDeps(f);
    deps = { registry: f.deps, paths: evaluation.paths };
  });
  afterAll(async () => {
    await evaluation?.close();
    await evaluation?.engines.close();
    await f?.close();
  });

  /** The stored object of a checkpoint, decoded. */
  const stored = async (checkpointId: string) => {
    const checkpoint = await getCheckpoint(f.deps, checkpointId);
    const bytes = await f.s3.readRange({ bucket: checkpoint.bucket, key: checkpoint.key }, 0, checkpoint.size, {
      size: checkpoint.size,
      etag: checkpoint.etag,
    });
    const header = parseSafetensors(bytes);
    return {
      checkpoint,
      header,
      tensor: (name: string) =>
        decodeTensor(
          header.tensors.find((t) => t.name === name)!,
          tensorBytes(
            bytes,
            header,
            header.tensors.find((t) => t.name === name)!,
          ),
        ),
    };
  };

  it('materialises θ(α) bit for bit, with its lineage, once per content', async () => {
    const derived = await materializeInterpolation(deps, { from: ids.init, to: ids.final, alpha: 0.3 });
    expect(derived).toMatchObject({
      role: 'DERIVED',
      runId: ids.run,
      architecture: 'mlp',
      derivation: {
        operation: 'INTERPOLATE',
        parents: [ids.init, ids.final],
        arguments: { alpha: 0.3, blocks: null, bnStats: 'INTERPOLATE', tensors: 'ALL' },
      },
    });
    const { header, tensor } = await stored(derived.id);
    expect(header.tensors.map((t) => t.name)).toEqual(final.tensors.map((t) => t.name));
    for (const [name, values] of final.state) {
      expect(
        Buffer.from((tensor(name) as Float32Array).buffer).equals(
          Buffer.from(interpolateTensor(init.state.get(name)!, values, 0.3).buffer),
        ),
        name,
      ).toBe(true);
    }
    expect((await materializeInterpolation(deps, { from: ids.init, to: ids.final, alpha: 0.3 })).id).toBe(derived.id);

    // Usable as an end point: its loss is the path's at α = 0.3.
    const path = await interpolationPath(evaluation.paths, {
      from: ids.init,
      to: ids.final,
      dataset: ids.test,
      alphas: [0.3],
    });
    const at = await interpolationPath(evaluation.paths, {
      from: derived.id,
      to: ids.final,
      dataset: ids.test,
      alphas: [0],
    });
    expect(at.points[0]!.lossSum).toBe(path.points[0]!.lossSum);
  });

  it('composes a checkpoint with a block reset to another state', async () => {
    const composed = await composeCheckpoint(deps, { base: ids.final, replace: [{ blocks: ['fc2'], from: ids.init }] });
    expect(composed.derivation).toEqual({
      operation: 'COMPOSE',
      parents: [ids.final, ids.init],
      arguments: { replace: [{ blocks: ['fc2'], from: ids.init }] },
    });
    const { tensor } = await stored(composed.id);
    for (const [name, values] of final.state) {
      const expected = name.startsWith('fc2.') ? init.state.get(name)! : values;
      expect(Buffer.from((tensor(name) as Float32Array).buffer).equals(Buffer.from(expected.buffer)), name).toBe(true);
    }
    await expect(
      composeCheckpoint(deps, { base: ids.final, replace: [{ blocks: ['layer9'], from: ids.init }] }),
    ).rejects.toMatchObject({ code: 'BAD_USER_INPUT' });
    await expect(composeCheckpoint(deps, { base: ids.final, replace: [] })).rejects.toMatchObject({
      code: 'BAD_USER_INPUT',
    });
  });

  it('answers over GraphQL with the lineage: operation, arguments and parents', async () => {
    const schema = await buildLinpathSchema();
    const contextValue = {
      registry: f.deps,
      paths: evaluation.paths,
      analytics: evaluation.analytics,
      logger: createLogger({ logLevel: 'silent' }),
      loaders: createLoaders(f.deps, evaluation.analytics, evaluation.training),
    };
    const result = await graphql({
      schema,
      source: `mutation ($input: MaterializeInterpolationInput!) {
        materializeInterpolation(input: $input) { role derivation { operation arguments parents { id role } } }
      }`,
      variableValues: { input: { from: ids.init, to: ids.final, alpha: 0.75, blocks: ['fc3'] } },
      contextValue,
    });
    expect(result.errors).toBeUndefined();
    expect(result.data).toEqual({
      materializeInterpolation: {
        role: 'DERIVED',
        derivation: {
          operation: 'INTERPOLATE',
          arguments: { alpha: 0.75, blocks: ['fc3'], bnStats: 'INTERPOLATE', tensors: 'ALL' },
          parents: [
            { id: ids.init, role: 'INITIAL' },
            { id: ids.final, role: 'FINAL' },
          ],
        },
      },
    });
  });

  it('draws a random initialisation as a checkpoint that paths can start from', async () => {
    const random = await createRandomCheckpoint(deps, { like: ids.final, seed: 5 });
    expect(random).toMatchObject({
      role: 'DERIVED',
      architecture: 'mlp',
      derivation: { operation: 'RANDOM_INIT', parents: [ids.final], arguments: { seed: 5 } },
    });
    const { tensor } = await stored(random.id);
    const expected = randomInitialState(buildModelGraph('mlp', final.tensors), 5);
    for (const t of expected)
      expect(
        Buffer.from((tensor(t.name) as Float32Array).buffer).equals(Buffer.from((t.data as Float32Array).buffer)),
        t.name,
      ).toBe(true);
    const path = await interpolationPath(evaluation.paths, {
      from: random.id,
      to: ids.final,
      dataset: ids.test,
      alphas: [0, 1],
    });
    expect(path.status).toBe('COMPLETE');
    expect(path.points[0]!.lossSum).not.toBe(path.points[1]!.lossSum);
    await expect(createRandomCheckpoint(deps, { like: ids.final, seed: -2 })).rejects.toMatchObject({
      code: 'BAD_USER_INPUT',
    });
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { blockwisePaths } from '../../src/usecases/analytics/blockwise.usecases.js';
import { interpolationPath } from '../../src/usecases/paths/paths.usecases.js';
import {
  getArchitecture,
  importArchitectureFile,
  listArchitectures,
} from '../../src/usecases/registry/architectures.usecases.js';
import { importCheckpointFile } from '../../src/usecases/registry/checkpoints.usecases.js';
import { importDatasetFile } from '../../src/usecases/registry/datasets.usecases.js';
import { onnxFixturePath, type OnnxModelReference } from '../helpers/onnx-fixtures.js';
import { createPathDeps, type PathFixture } from '../helpers/paths.js';
import { createRegistryFixture, type RegistryFixture } from '../helpers/registry.js';
import { readFileSync } from 'node:fs';

/**
 * Architectures registered from PyTorch ONNX exports (test/fixtures/onnx), end to end through the registry and
 * the queue: registration and its refusals, the checkpoint check at import, and interpolation paths (full and
 * block-wise) against PyTorch's numbers on both routes.
 */
const reference = (folder: string) =>
  JSON.parse(readFileSync(onnxFixturePath(`${folder}/reference.json`), 'utf8')) as OnnxModelReference;

describe('user architectures in the registry', () => {
  let f: RegistryFixture;
  let evaluation: PathFixture;
  const ids: Record<string, string> = {};

  beforeAll(async () => {
    f = await createRegistryFixture();
    evaluation = await createPathDeps(f, { settings: { batchSize: 64 } });
  }, 120_000);
  afterAll(async () => {
    await evaluation?.close();
    await evaluation?.engines.close();
    await f?.close();
  });

  it('registers an export under a name, idempotently, and refuses re-pointing the name (CONFLICT)', async () => {
    const first = await importArchitectureFile(f.deps, onnxFixturePath('mobilenetv3/model.onnx'), { name: 'mnv3' });
    expect(first.created).toBe(true);
    expect(first.architecture).toMatchObject({
      name: 'mnv3',
      builtIn: false,
      inputShape: [3, 32, 32],
      outputs: 10,
      engines: ['onnx', 'tfjs'],
    });
    expect(first.architecture.parameters).toHaveLength(210);
    expect(first.architecture.blocks).toEqual(expect.arrayContaining(['features', 'features.4', 'classifier']));
    expect(first.architecture.row!.uri).toMatch(/objects\/sha256\/[0-9a-f]{64}\.onnx$/);
    const again = await importArchitectureFile(f.deps, onnxFixturePath('mobilenetv3/model.onnx'), { name: 'mnv3' });
    expect(again.created).toBe(false);
    await expect(
      importArchitectureFile(f.deps, onnxFixturePath('vit/model.onnx'), { name: 'mnv3' }),
    ).rejects.toMatchObject({ code: 'CONFLICT', message: expect.stringMatching(/cannot be re-pointed/) });

    const vit = await importArchitectureFile(f.deps, onnxFixturePath('vit/model.onnx'), { name: 'vit' });
    expect(vit.architecture.engines).toEqual(['onnx']);
    expect(vit.architecture.row!.unsupportedOps.join(' ')).toMatch(/Shape/);
  });

  it('refuses a folded export, a built-in name, and registers nothing', async () => {
    await expect(
      importArchitectureFile(f.deps, onnxFixturePath('folded/model.onnx'), { name: 'folded' }),
    ).rejects.toMatchObject({ code: 'BAD_USER_INPUT', message: expect.stringMatching(/TrainingMode\.PRESERVE/) });
    await expect(
      importArchitectureFile(f.deps, onnxFixturePath('mlp-bn/model.onnx'), { name: 'mlp' }),
    ).rejects.toMatchObject({ code: 'BAD_USER_INPUT', message: expect.stringMatching(/built-in/) });
    expect(await getArchitecture(f.deps, 'folded')).toBeUndefined();
    const names = (await listArchitectures(f.deps)).map((a) => a.name);
    expect(names).toEqual(['mlp', 'resnet18-cifar', 'resnet34-cifar', 'vgg11-bn-cifar', 'mnv3', 'vit']);
  });

  it('checks checkpoints against the architecture at import, listing the differences, and registers nothing on failure', async () => {
    for (const [run, folder, arch] of [
      ['mnv3-seed1', 'mobilenetv3', 'mnv3'],
      ['vit-seed1', 'vit', 'vit'],
    ] as const) {
      for (const [name, role, step] of [
        ['init', 'INITIAL', 0],
        ['final', 'FINAL', 60],
      ] as const) {
        const file = onnxFixturePath(`${folder}/${name}.safetensors`);
        ids[`${folder}.${name}`] = (
          await importCheckpointFile(f.deps, file, { run, step, role, architecture: arch })
        ).checkpoint.id;
      }
    }
    // The ViT's state under the MobileNet: every MobileNet tensor missing, every ViT tensor unexpected.
    await expect(
      importCheckpointFile(f.deps, onnxFixturePath('vit/init.safetensors'), {
        run: 'wrong',
        step: 0,
        role: 'INITIAL',
        architecture: 'mnv3',
      }),
    ).rejects.toMatchObject({
      code: 'BAD_USER_INPUT',
      message: expect.stringMatching(/does not match architecture mnv3: missing \(210\): .* unexpected \(31\): pos/),
    });
    // A built-in architecture is checked too.
    await expect(
      importCheckpointFile(f.deps, onnxFixturePath('mlp-bn/init.safetensors'), {
        run: 'wrong',
        step: 0,
        role: 'INITIAL',
        architecture: 'resnet18-cifar',
      }),
    ).rejects.toMatchObject({ code: 'BAD_USER_INPUT', message: expect.stringMatching(/missing/) });
    expect(await f.deps.repository.findRunByName('wrong')).toBeUndefined();
  });

  it.each([
    { folder: 'mobilenetv3', blocks: undefined, engine: 'tfjs' as const },
    { folder: 'mobilenetv3', blocks: ['features.4'], engine: 'onnx' as const },
    { folder: 'vit', blocks: undefined, engine: 'onnx' as const },
    { folder: 'vit', blocks: ['encoder.layers.1'], engine: undefined },
  ])(
    'evaluates $folder, blocks $blocks on $engine as PyTorch does',
    async ({ folder, blocks, engine }) => {
      const ref = reference(folder);
      ids[`dataset.${folder}`] ??= (
        await importDatasetFile(f.deps, onnxFixturePath(`${folder}/${ref.dataset}`), {
          name: `${folder}-images`,
          split: 'TEST',
          inputKey: 'x',
          labelKey: 'labels',
        })
      ).dataset.id;
      const alphas = [0, 0.3, 0.5, 1];
      const result = await interpolationPath(evaluation.paths, {
        from: ids[`${folder}.init`]!,
        to: ids[`${folder}.final`]!,
        dataset: ids[`dataset.${folder}`]!,
        alphas,
        ...(blocks === undefined ? {} : { blocks }),
        ...(engine === undefined ? {} : { engine }),
      });
      const curve = blocks === undefined ? ref.full : ref.blockwise;
      for (const point of result.points) {
        const expected = curve.find((p) => Math.abs(p.alpha - point.alpha) < 1e-12)!;
        expect(Math.abs(point.lossSum / point.n - expected.loss) / expected.loss).toBeLessThan(1e-5);
        expect(point.correct).toBe(expected.correct);
        expect(point.engine).toBe(engine ?? 'onnx');
      }
      expect(result.points.map((p) => p.alpha)).toEqual(alphas);
    },
    120_000,
  );

  it('runs blockwisePaths over the top-level modules of a registered architecture', async () => {
    const result = await blockwisePaths(evaluation.analytics, {
      from: ids['vit.init']!,
      to: ids['vit.final']!,
      dataset: ids['dataset.vit']!,
      alphas: [0, 1],
    });
    expect(result.paths.map((p) => p.block)).toEqual(['pos', 'patch', 'encoder', 'norm', 'head']);
    const final = reference('vit').full.at(-1)!;
    for (const path of result.paths) {
      const end = path.result.points.find((p) => p.alpha === 1)!;
      expect(Math.abs(end.lossSum / end.n - final.loss) / final.loss).toBeLessThan(1e-5);
    }
  }, 120_000);

  it('says why the ViT has no TFJS route and no RECOMPUTE, and checks the dataset shape before any work', async () => {
    const base = { from: ids['vit.init']!, to: ids['vit.final']!, dataset: ids['dataset.vit']!, alphas: [0.5] };
    await expect(interpolationPath(evaluation.paths, { ...base, engine: 'tfjs' })).rejects.toMatchObject({
      code: 'BAD_USER_INPUT',
      message: expect.stringMatching(/engine tfjs: vit runs only on ONNX Runtime.*Shape/),
    });
    await expect(
      interpolationPath(evaluation.paths, { ...base, bnStats: 'RECOMPUTE', bnStatsDataset: ids['dataset.vit']! }),
    ).rejects.toMatchObject({ code: 'BAD_USER_INPUT', message: expect.stringMatching(/RECOMPUTE needs the model IR/) });
    const features = (
      await importDatasetFile(f.deps, onnxFixturePath('mlp-bn/dataset.safetensors'), {
        name: 'features',
        split: 'TEST',
        inputKey: 'x',
        labelKey: 'labels',
      })
    ).dataset.id;
    await expect(interpolationPath(evaluation.paths, { ...base, dataset: features })).rejects.toMatchObject({
      code: 'BAD_USER_INPUT',
      message: expect.stringMatching(/examples of shape \[16\], vit takes \[3, 32, 32\]/),
    });
  }, 60_000);
});

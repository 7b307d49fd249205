import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { buildModelGraph } from '../compute/architectures/index.js';
import { BatchNormRecomputer } from '../compute/bn-recompute.js';
import { randomInitialState } from '../compute/random-init.js';
import { restrictSelection, selectBlocks, type BnStatsMode, type TensorGroup } from '../domain/blocks.js';
import { interpolateTensor } from '../domain/interpolation.js';
import { badUserInput } from '../errors.js';
import type { CheckpointRow, Derivation } from '../storage/registry.tables.js';
import { encodeSafetensors } from '../formats/safetensors.encode.js';
import type { TensorToWrite } from '../formats/safetensors.format.js';
import { planBnStatsData, resolveEndpoints } from './paths/path-plan.js';
import type { PathDeps } from './paths/paths.deps.js';
import { getCheckpoint, importCheckpointFile } from './registry/checkpoints.usecases.js';
import type { RegistryDeps } from './registry/registry.deps.js';
import { isUuid } from '../domain/ids.js';

/**
 * Checkpoints computed by linpath from others — a random initialisation, θ(α) of a path, a network with
 * some blocks taken from another state — written to the store as safetensors and registered as DERIVED
 * checkpoints with their lineage (operation, parents, arguments). Float tensors are written as F32, integer
 * tensors (num_batches_tracked) as stored. The same content in the same run is one checkpoint.
 */
export interface DeriveDeps {
  registry: RegistryDeps;
  /** Engines and examples: for θ(α) with BatchNorm statistics recomputed. */
  paths: Pick<PathDeps, 'registry' | 'states' | 'settings' | 'engines' | 'examples'>;
}

/** A state drawn from the architecture's PyTorch default initialisation, shaped like `like`. */
export async function createRandomCheckpoint(
  deps: DeriveDeps,
  input: { like: string; seed: number; run?: string | null },
): Promise<CheckpointRow> {
  if (!Number.isSafeInteger(input.seed) || input.seed < 0)
    throw badUserInput(`seed: expected an integer ≥ 0, got ${input.seed}`);
  const like = await getCheckpoint(deps.registry, input.like);
  if (like.architecture === null)
    throw badUserInput(`like: checkpoint ${like.id} has no architecture; a random initialisation needs one`);
  const graph = buildModelGraph(like.architecture, like.header.tensors);
  return storeDerived(deps, {
    run: input.run ?? like.runId,
    architecture: like.architecture,
    tensors: randomInitialState(graph, input.seed),
    derivation: {
      operation: 'RANDOM_INIT',
      parents: [like.id],
      arguments: { seed: input.seed, architecture: like.architecture },
    },
  });
}

/** θ(α) of a path (e.g. at the barrier peak, `alphaAtMax`), as its own checkpoint. */
export async function materializeInterpolation(
  deps: DeriveDeps,
  input: {
    from: string;
    to: string;
    alpha: number;
    blocks?: readonly string[] | null;
    bnStats?: BnStatsMode | null;
    /** RECOMPUTE: as for a path; bnStatsDataset is required (there is no evaluated dataset to take the name of). */
    bnStatsDataset?: string | null;
    bnStatsExamples?: number | null;
    tensors?: TensorGroup | null;
    run?: string | null;
  },
): Promise<CheckpointRow> {
  if (!Number.isFinite(input.alpha) || Math.abs(input.alpha) > deps.paths.settings.maxAbsAlpha) {
    throw badUserInput(
      `alpha: expected a number from ${-deps.paths.settings.maxAbsAlpha} to ${deps.paths.settings.maxAbsAlpha}, got ${input.alpha}`,
    );
  }
  const endpoints = await resolveEndpoints(deps.paths, input);
  const { from, to, graph, architecture } = endpoints;
  const bnStats = input.bnStats ?? 'INTERPOLATE';
  if (bnStats !== 'RECOMPUTE' && (input.bnStatsDataset != null || input.bnStatsExamples != null)) {
    throw badUserInput(`bnStatsDataset and bnStatsExamples apply to bnStats RECOMPUTE only, got bnStats ${bnStats}`);
  }
  const tensors = input.tensors ?? 'ALL';
  const runningStats = new Set(graph.nodes.flatMap((n) => (n.op === 'batchnorm' ? [n.runningMean, n.runningVar] : [])));
  const floatTensors = graph.state.filter((s) => s.kind === 'float').map((s) => s.name);
  const selection = restrictSelection(endpoints.selection, floatTensors, runningStats, {
    tensors,
    bnStats,
    architecture,
  });
  const statsData =
    bnStats === 'RECOMPUTE' ? await planBnStatsData(deps.paths, input, graph, undefined, runningStats) : undefined;
  const moving = new Set(selection.movingNames);
  const [a, b] = await Promise.all([deps.paths.states.get(from), deps.paths.states.get(to)]);
  let floats: ReadonlyMap<string, Float32Array> = new Map(
    [...b.tensors].map(([name, values]) => [
      name,
      moving.has(name) ? interpolateTensor(a.tensors.get(name)!, values, input.alpha) : values,
    ]),
  );
  if (statsData !== undefined) {
    const engine = await deps.paths.engines.get(deps.paths.settings.defaultEngine);
    const examples = await deps.paths.examples(statsData.dataset, statsData.limit, graph.inputShape);
    const recomputer = await BatchNormRecomputer.prepare(engine, graph);
    try {
      floats = await recomputer.recompute(floats, examples, deps.paths.settings.batchSize);
    } finally {
      await recomputer.dispose();
    }
  }
  const written = to.header.tensors.map((info): TensorToWrite => {
    const float = floats.get(info.name);
    if (float === undefined) return integerTensor(b.integers, info.name);
    return { name: info.name, dtype: 'F32', shape: [...info.shape], data: float };
  });
  return storeDerived(deps, {
    run: input.run ?? to.runId,
    architecture,
    tensors: written,
    derivation: {
      operation: 'INTERPOLATE',
      parents: [from.id, to.id],
      arguments: {
        alpha: input.alpha,
        blocks: selection.blocks ?? null,
        bnStats,
        tensors,
        ...(statsData === undefined ? {} : { bnStatsDataset: statsData.dataset.id, bnStatsExamples: statsData.limit }),
      },
    },
  });
}

/**
 * `base` with the tensors of some blocks taken from other checkpoints of the same architecture, e.g. a
 * trained network with layer4 reset to its initial state (partial pre-training). All tensors under a
 * block's prefix are taken, num_batches_tracked included; later replacements win.
 */
export async function composeCheckpoint(
  deps: DeriveDeps,
  input: { base: string; replace: ReadonlyArray<{ blocks: readonly string[]; from: string }>; run?: string | null },
): Promise<CheckpointRow> {
  if (input.replace.length === 0) throw badUserInput('replace: expected at least one { blocks, from }, got []');
  const base = await getCheckpoint(deps.registry, input.base);
  const baseState = await deps.paths.states.get(base);
  const written = new Map(
    base.header.tensors.map((info) => {
      const float = baseState.tensors.get(info.name);
      const tensor: TensorToWrite =
        float === undefined
          ? integerTensor(baseState.integers, info.name)
          : { name: info.name, dtype: 'F32', shape: [...info.shape], data: float };
      return [info.name, tensor];
    }),
  );
  let architecture = base.architecture;
  for (const [i, replacement] of input.replace.entries()) {
    // Same architecture and tensors as base, or BAD_USER_INPUT naming the difference.
    const endpoints = await resolveEndpoints(deps.paths, {
      from: replacement.from,
      to: base.id,
      blocks: replacement.blocks,
    });
    architecture = endpoints.architecture;
    const names = selectBlocks(
      base.header.tensors.map((t) => t.name),
      replacement.blocks,
      { architecture: endpoints.architecture, topLevel: endpoints.graph.blocks, aliases: endpoints.graph.aliases },
    ).movingNames;
    const source = await deps.paths.states.get(endpoints.from);
    for (const name of names) {
      const float = source.tensors.get(name);
      const previous = written.get(name)!;
      if (float === undefined && !source.integers.has(name))
        throw badUserInput(`replace[${i}]: checkpoint ${endpoints.from.id} has no tensor "${name}"`);
      written.set(name, float === undefined ? integerTensor(source.integers, name) : { ...previous, data: float });
    }
  }
  return storeDerived(deps, {
    run: input.run ?? base.runId,
    architecture: architecture!,
    tensors: [...written.values()],
    derivation: {
      operation: 'COMPOSE',
      parents: [base.id, ...input.replace.map((r) => r.from)],
      arguments: { replace: input.replace.map((r) => ({ blocks: [...r.blocks], from: r.from })) },
    },
  });
}

export function integerTensor(
  integers: Map<string, { dtype: TensorToWrite['dtype']; shape: number[]; data: TensorToWrite['data'] }>,
  name: string,
): TensorToWrite {
  const tensor = integers.get(name);
  if (tensor === undefined) throw new Error(`derived checkpoint: no integer tensor "${name}" was read`);
  return { name, dtype: tensor.dtype, shape: tensor.shape, data: tensor.data };
}

export async function storeDerived(
  deps: DeriveDeps,
  input: { run: string; architecture: string; tensors: TensorToWrite[]; derivation: Derivation },
): Promise<CheckpointRow> {
  const bytes = encodeSafetensors(input.tensors, {
    format: 'pt',
    'linpath.derivation': JSON.stringify(input.derivation),
  });
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  const runId = input.run;
  const run =
    (isUuid(runId) ? await deps.registry.repository.findRunById(runId) : undefined) ??
    (await deps.registry.repository.findRunByName(runId));
  if (run === undefined) throw badUserInput(`run: no run with id or name "${runId}"`);
  const derived = (await deps.registry.repository.checkpointsOfRuns([run.id])).filter((c) => c.role === 'DERIVED');
  const same = derived.find((c) => c.sha256 === sha256);
  if (same !== undefined) return same;

  const dir = await mkdtemp(path.join(tmpdir(), 'linpath-derived-'));
  try {
    const file = path.join(dir, `${sha256}.safetensors`);
    await writeFile(file, bytes);
    const step = derived.reduce((max, c) => Math.max(max, c.step + 1), 0);
    const { checkpoint } = await importCheckpointFile(deps.registry, file, {
      run: run.id,
      step,
      role: 'DERIVED',
      architecture: input.architecture,
    });
    return deps.registry.repository.setDerivation(checkpoint.id, input.derivation);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

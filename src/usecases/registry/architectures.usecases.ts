import { readFile, stat } from 'node:fs/promises';
import {
  BUILT_IN_ARCHITECTURES,
  buildModelGraph,
  buildNewModelGraph,
  checkCheckpoint,
  isBuiltInArchitecture,
  type CheckpointTensor,
} from '../../compute/architectures/index.js';
import type { EngineName } from '../../compute/engine.js';
import type { ModelGraph } from '../../compute/model-ir.js';
import { DEFAULT_ONNX_LIMITS, readOnnxArchitecture } from '../../compute/onnx/onnx.import.js';
import { blockChoices, userModelGraph } from '../../compute/onnx/onnx.to-ir.js';
import { badUserInput, notFound } from '../../errors.js';
import { formatS3Uri, parseS3Uri } from '../../storage/object-store.js';
import type { ArchitectureRow } from '../../storage/registry.tables.js';
import type { RegistryDeps } from './registry.deps.js';
import { validateName } from './registry.validation.js';
import { FLOAT_DTYPES, uploadFile } from './stored-objects.js';

/** An architecture as the API lists it: a built-in one, or one defined by an ONNX export. */
export interface ArchitectureInfo {
  name: string;
  builtIn: boolean;
  /** User architectures: the export and what was read from it. */
  row: ArchitectureRow | undefined;
  /** Per-example input shape; built-ins are sized by their checkpoints (undefined). */
  inputShape: number[] | undefined;
  outputs: number | undefined;
  parameters: { name: string; shape: number[] }[] | undefined;
  /** Prefixes a block-wise path offers: top-level modules and those one level below. */
  blocks: string[];
  /** Engines that run it: both on the model IR, ONNX Runtime alone on an export with ops the IR lacks. */
  engines: EngineName[];
}

/**
 * Reads an ONNX export already in the bucket, checks it (readOnnxArchitecture: bounded sizes, ops, a data input,
 * [N, C] logits, parameters named as state_dict keys) and registers it under `name`, pinned to its size and ETag.
 * The same name for the same graph answers the existing registration; for another graph, CONFLICT.
 */
export async function registerArchitecture(
  deps: RegistryDeps,
  input: { name: string; uri: string },
): Promise<{ architecture: ArchitectureInfo; created: boolean }> {
  const name = validateArchitectureName(input.name);
  const ref = parseS3Uri(input.uri, deps.store.readableBuckets);
  const version = await deps.store.head(ref);
  if (version.size > DEFAULT_ONNX_LIMITS.maxBytes) {
    throw badUserInput(`${input.uri}: ${version.size} bytes, more than the ${DEFAULT_ONNX_LIMITS.maxBytes} allowed`);
  }
  const bytes = await deps.store.readRange(ref, 0, version.size, version);
  const arch = readOnnxArchitecture(bytes, formatS3Uri(ref));
  const graph = userModelGraph(name, arch);
  const { architecture, created } = await deps.repository.insertArchitecture({
    name,
    uri: formatS3Uri(ref),
    ...ref,
    size: version.size,
    etag: version.etag,
    sha256: arch.sha256,
    opset: arch.opset,
    inputShape: arch.input.shape,
    outputs: arch.output.outputs,
    parameters: arch.parameters.map(({ name, shape }) => ({ name, shape })),
    ops: arch.ops,
    unsupportedOps: graph.onnx!.unsupportedOps,
  });
  return { architecture: infoOfRow(architecture), created };
}

/** Checks a local ONNX file, uploads it content-addressed (objects/sha256/<sha256>.onnx) and registers it. */
export async function importArchitectureFile(
  deps: RegistryDeps,
  filePath: string,
  input: { name: string },
): Promise<{ architecture: ArchitectureInfo; created: boolean }> {
  validateArchitectureName(input.name);
  let size: number;
  try {
    size = (await stat(filePath)).size;
  } catch (error) {
    throw badUserInput(`cannot read ${filePath}: ${(error as Error).message}`, error);
  }
  if (size > DEFAULT_ONNX_LIMITS.maxBytes) {
    throw badUserInput(`${filePath}: ${size} bytes, more than the ${DEFAULT_ONNX_LIMITS.maxBytes} allowed`);
  }
  readOnnxArchitecture(new Uint8Array(await readFile(filePath)), filePath); // a bad file is never uploaded
  const { ref } = await uploadFile(deps, filePath, size, '.onnx');
  return registerArchitecture(deps, { name: input.name, uri: formatS3Uri(ref) });
}

/** Every architecture: the built-ins, then the registered ones by name. */
export async function listArchitectures(deps: Pick<RegistryDeps, 'repository'>): Promise<ArchitectureInfo[]> {
  const rows = await deps.repository.listArchitectures();
  return [...BUILT_IN_ARCHITECTURES.map(builtInInfo), ...rows.map(infoOfRow)];
}

export async function getArchitecture(
  deps: Pick<RegistryDeps, 'repository'>,
  name: string,
): Promise<ArchitectureInfo | undefined> {
  if (isBuiltInArchitecture(name)) return builtInInfo(name);
  const row = await deps.repository.findArchitecture(name);
  return row === undefined ? undefined : infoOfRow(row);
}

/**
 * Refuses (BAD_USER_INPUT listing missing, unexpected and mis-shaped tensors) a checkpoint that does not fit
 * `architecture`, before anything is registered: a built-in one is sized from the checkpoint and checked against
 * its graph; a registered one against its parameter table, where integer buffers the graph does not read
 * (num_batches_tracked) are allowed. A name that is neither passes here (as before architectures could be
 * registered) and fails when a path is planned.
 */
export async function checkCheckpointArchitecture(
  deps: Pick<RegistryDeps, 'repository'>,
  architecture: string,
  tensors: readonly CheckpointTensor[],
): Promise<void> {
  if (isBuiltInArchitecture(architecture)) {
    buildModelGraph(architecture, tensors); // sized from the checkpoint; lists every difference
    return;
  }
  const row = await deps.repository.findArchitecture(architecture);
  if (row !== undefined) checkUserCheckpoint(graphOfTable(row), tensors);
}

/** A user architecture's checkpoint against its parameter table; integer entries it does not name are allowed. */
export function checkUserCheckpoint(graph: ModelGraph, tensors: readonly CheckpointTensor[]): void {
  const names = new Set(graph.state.map((s) => s.name));
  const relevant = tensors.filter((t) => names.has(t.name) || (FLOAT_DTYPES as readonly string[]).includes(t.dtype));
  checkCheckpoint(graph, relevant);
}

export const unknownArchitecture = (name: string) =>
  notFound(
    `architecture "${name}" is neither built in (${BUILT_IN_ARCHITECTURES.join(', ')}) nor registered; register its ONNX export with linpath import model (registerModel)`,
  );

function validateArchitectureName(name: string): string {
  const valid = validateName('name', name);
  if (isBuiltInArchitecture(valid))
    throw badUserInput(`name: "${valid}" is a built-in architecture; choose another name`);
  return valid;
}

/** The parameter table of a registered architecture as a graph state (enough for the checkpoint check). */
function graphOfTable(row: ArchitectureRow): ModelGraph {
  return {
    architecture: row.name,
    inputShape: row.inputShape,
    output: '',
    outputs: row.outputs,
    nodes: [],
    state: row.parameters.map((p) => ({ name: p.name, shape: p.shape, kind: 'float' as const })),
    blocks: [],
    aliases: {},
  };
}

function infoOfRow(row: ArchitectureRow): ArchitectureInfo {
  return {
    name: row.name,
    builtIn: false,
    row,
    inputShape: row.inputShape,
    outputs: row.outputs,
    parameters: row.parameters,
    blocks: blockChoices(row.parameters.map((p) => p.name)),
    engines: row.unsupportedOps.length === 0 ? ['onnx', 'tfjs'] : ['onnx'],
  };
}

function builtInInfo(name: string): ArchitectureInfo {
  // Blocks of the default sizing (CIFAR-sized images; the spiral MLP): the names do not depend on the sizes.
  const graph = buildNewModelGraph(
    name,
    name === 'mlp' ? { inputShape: [2], outputs: 1 } : { inputShape: [3, 32, 32], outputs: 10 },
  );
  return {
    name,
    builtIn: true,
    row: undefined,
    inputShape: undefined,
    outputs: undefined,
    parameters: undefined,
    blocks: [...graph.blocks, ...Object.keys(graph.aliases).filter((a) => !graph.blocks.includes(a))],
    engines: ['onnx', 'tfjs'],
  };
}

import { createHash } from 'node:crypto';
import { buildModelGraph, isBuiltInArchitecture, type CheckpointTensor } from '../../compute/architectures/index.js';
import type { ModelGraph } from '../../compute/model-ir.js';
import { readOnnxArchitecture } from '../../compute/onnx/onnx.import.js';
import { userModelGraph } from '../../compute/onnx/onnx.to-ir.js';
import { conflict } from '../../errors.js';
import type { ObjectStore } from '../../storage/object-store.js';
import type { RegistryRepository } from '../../storage/registry.repository.js';
import type { ArchitectureRow } from '../../storage/registry.tables.js';
import { checkUserCheckpoint } from '../registry/architectures.usecases.js';

/** Graphs of registered architectures kept at once (each holds its export's bytes). */
const CACHED_GRAPHS = 16;

/**
 * The graphs of architectures registered from ONNX exports, read from the bucket (the pinned version, checked
 * against its sha256) and lowered once per process.
 */
export class ArchitectureGraphs {
  private readonly graphs = new Map<string, Promise<ModelGraph>>();

  constructor(
    private readonly registry: Pick<RegistryRepository, 'findArchitecture'>,
    private readonly store: ObjectStore,
  ) {}

  /** The graph of a registered architecture; undefined when no architecture has that name. */
  async graphOf(name: string): Promise<ModelGraph | undefined> {
    const row = await this.registry.findArchitecture(name);
    if (row === undefined) return undefined;
    const key = `${row.name}\u0000${row.sha256}`;
    let graph = this.graphs.get(key);
    if (graph === undefined) {
      graph = this.load(row);
      graph.catch(() => this.graphs.delete(key));
      this.graphs.set(key, graph);
      if (this.graphs.size > CACHED_GRAPHS) this.graphs.delete(this.graphs.keys().next().value!);
    }
    return graph;
  }

  private async load(row: ArchitectureRow): Promise<ModelGraph> {
    const bytes = await this.store.readRange({ bucket: row.bucket, key: row.key }, 0, row.size, {
      size: row.size,
      etag: row.etag,
    });
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    if (sha256 !== row.sha256)
      throw conflict(`${row.uri}: expected sha256 ${row.sha256} as registered, read ${sha256}`);
    return userModelGraph(row.name, readOnnxArchitecture(bytes, row.uri));
  }
}

/**
 * The graph of `architecture` for a checkpoint, checked against it: a built-in one sized from the checkpoint, a
 * registered one as its export defines it (integer buffers it does not read allowed). Unknown names are refused
 * by buildModelGraph, listing the built-ins.
 */
export async function modelGraphFor(
  architectures: ArchitectureGraphs | undefined,
  architecture: string,
  tensors: readonly CheckpointTensor[],
): Promise<ModelGraph> {
  if (!isBuiltInArchitecture(architecture)) {
    const graph = await architectures?.graphOf(architecture);
    if (graph !== undefined) {
      checkUserCheckpoint(graph, tensors);
      return graph;
    }
  }
  return buildModelGraph(architecture, tensors);
}

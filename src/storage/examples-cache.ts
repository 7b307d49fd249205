import { LRUCache } from 'lru-cache';
import type { ObjectStore } from './object-store.js';
import type { DatasetRow } from './registry.tables.js';
import { fitToModel, loadExamples } from './dataset-loader.js';
import type { Examples } from '../domain/examples.js';

/**
 * Datasets decoded to float32, kept in memory least-recently-used first out, bounded by bytes; concurrent
 * requests for the same examples share one read.
 */
export class ExamplesCache {
  private readonly cache: LRUCache<
    string,
    Examples & { exampleShape: number[] },
    { dataset: DatasetRow; limit: number }
  >;

  constructor(store: ObjectStore, maxBytes: number) {
    this.cache = new LRUCache({
      maxSize: Math.max(1, maxBytes),
      maxEntrySize: Math.max(1, maxBytes),
      sizeCalculation: (examples) => Math.max(1, examples.x.byteLength + examples.labels.byteLength),
      fetchMethod: async (_key, _stale, { context }) => loadExamples(store, context.dataset, { limit: context.limit }),
    });
  }

  /** The first `limit` examples of the dataset, shaped for a model whose per-example input is `inputShape`. */
  async get(dataset: DatasetRow, limit: number, inputShape: readonly number[]): Promise<Examples> {
    const key = `${dataset.id}@${dataset.etag}:${limit}`;
    const examples = this.cache.get(key) ?? (await this.cache.fetch(key, { context: { dataset, limit } }));
    if (examples === undefined) throw new Error(`dataset ${dataset.id} could not be read`);
    return fitToModel(examples, [...inputShape]);
  }
}

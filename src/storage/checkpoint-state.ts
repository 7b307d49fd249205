import { createHash } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import { badUserInput, conflict } from '../errors.js';
import type { ObjectStore } from './object-store.js';
import type { CheckpointRow } from './registry.tables.js';
import { decodeTensor } from '../formats/safetensors.decode.js';
import {
  isFloatDtype,
  SafetensorsFormatError,
  type TensorData,
  type TensorInfo,
} from '../formats/safetensors.format.js';
import { parseSafetensors, tensorBytes } from '../formats/safetensors.header.js';

/** The decoded floating-point tensors of a checkpoint (integer buffers are not needed to evaluate). */
export interface CheckpointState {
  tensors: Map<string, Float32Array>;
  /** The integer tensors (num_batches_tracked), as stored: what derived checkpoints copy. */
  integers: Map<string, { dtype: TensorInfo['dtype']; shape: number[]; data: TensorData }>;
  /** Bytes held by the decoded tensors, for the cache's accounting. */
  bytes: number;
  sha256: string;
}

/**
 * Reads a whole registered checkpoint (one range request over the pinned version), checks it against its
 * recorded sha256 when known, and decodes its float tensors to float32.
 */
async function readCheckpointState(
  store: ObjectStore,
  checkpoint: Pick<CheckpointRow, 'uri' | 'bucket' | 'key' | 'size' | 'etag' | 'sha256'>,
  maxHeaderBytes: number,
): Promise<CheckpointState> {
  const bytes = await store.readRange({ bucket: checkpoint.bucket, key: checkpoint.key }, 0, checkpoint.size, {
    size: checkpoint.size,
    etag: checkpoint.etag,
  });
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  if (checkpoint.sha256 !== null && checkpoint.sha256 !== sha256) {
    throw conflict(`${checkpoint.uri}: expected sha256 ${checkpoint.sha256} as registered, read ${sha256}`);
  }
  try {
    const header = parseSafetensors(bytes, maxHeaderBytes);
    const tensors = new Map<string, Float32Array>();
    const integers: CheckpointState['integers'] = new Map();
    let total = 0;
    for (const info of header.tensors) {
      if (!isFloatDtype(info.dtype)) {
        const data = decodeTensor(info, tensorBytes(bytes, header, info));
        integers.set(info.name, { dtype: info.dtype, shape: [...info.shape], data });
        total += data.byteLength;
        continue;
      }
      const values = decodeTensor(info, tensorBytes(bytes, header, info)) as Float32Array;
      tensors.set(info.name, values);
      total += values.byteLength;
    }
    return { tensors, integers, bytes: total, sha256 };
  } catch (error) {
    if (error instanceof SafetensorsFormatError) {
      throw badUserInput(`${checkpoint.uri} is not a valid safetensors file: ${error.message}`, error);
    }
    throw error;
  }
}

/**
 * Decoded checkpoints kept in memory, least recently used first out, bounded by the bytes they hold.
 * Concurrent requests for one checkpoint share a single read.
 */
export class CheckpointStateCache {
  private readonly cache: LRUCache<string, CheckpointState, CheckpointRow>;
  /** Lookups answered from memory, and reads from the object store (for /metrics). */
  readonly stats = { hits: 0, reads: 0 };

  constructor(
    private readonly store: ObjectStore,
    maxBytes: number,
    private readonly maxHeaderBytes: number,
    /** Told the sha256 of each checkpoint read in full, to record it where it was unknown. */
    private readonly onSha256: (checkpoint: CheckpointRow, sha256: string) => Promise<void>,
  ) {
    this.cache = new LRUCache<string, CheckpointState, CheckpointRow>({
      // lru-cache needs a positive size; 0 (keep nothing) becomes 1, which no state fits in.
      maxSize: Math.max(1, maxBytes),
      // A state larger than the whole cache is still returned, just not kept.
      maxEntrySize: Math.max(1, maxBytes),
      sizeCalculation: (state) => Math.max(1, state.bytes),
      fetchMethod: async (_key, _stale, { context }) => {
        this.stats.reads++;
        const state = await readCheckpointState(this.store, context, this.maxHeaderBytes);
        if (context.sha256 === null) await this.onSha256(context, state.sha256);
        return state;
      },
    });
  }

  async get(checkpoint: CheckpointRow): Promise<CheckpointState> {
    const key = `${checkpoint.bucket}/${checkpoint.key}@${checkpoint.etag}`;
    const cached = this.cache.get(key);
    if (cached !== undefined) {
      this.stats.hits++;
      return cached;
    }
    const state = await this.cache.fetch(key, { context: checkpoint });
    if (state === undefined) throw new Error(`checkpoint ${checkpoint.id} could not be read`);
    return state;
  }
}

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CheckpointStateCache } from '../../src/storage/checkpoint-state.js';
import type { CheckpointRow } from '../../src/storage/registry.tables.js';
import { importCheckpointFile } from '../../src/usecases/registry/checkpoints.usecases.js';
import { fixturePath } from '../helpers/fixtures.js';
import { createRegistryFixture, type RegistryFixture } from '../helpers/registry.js';

/** The in-memory LRU of decoded checkpoints (LINPATH_CHECKPOINT_CACHE_BYTES), reading over HTTP from the test S3 server. */
describe('CheckpointStateCache', () => {
  let f: RegistryFixture;
  let init: CheckpointRow;
  let final: CheckpointRow;
  /** Bytes one decoded MLP fixture state holds: 2751 float32 parameters. */
  const STATE_BYTES = 2751 * 4;

  beforeAll(async () => {
    f = await createRegistryFixture();
    const add = async (file: string, step: number, role: 'INITIAL' | 'FINAL') =>
      (await importCheckpointFile(f.deps, fixturePath(`mlp/${file}`), { run: 'cache', step, role })).checkpoint;
    init = await add('init.safetensors', 0, 'INITIAL');
    final = await add('final.safetensors', 1200, 'FINAL');
  });
  afterAll(async () => {
    await f?.close();
  });

  const cache = (maxBytes: number) => {
    const recorded: string[] = [];
    const states = new CheckpointStateCache(
      f.store,
      maxBytes,
      1024 * 1024,
      async (_checkpoint, sha256) => void recorded.push(sha256),
    );
    return { states, recorded };
  };

  it('reads a checkpoint once, answers again from memory, and shares one read among concurrent requests', async () => {
    const { states } = cache(1024 ** 2);
    const [a, b, c] = await Promise.all([states.get(init), states.get(init), states.get(init)]);
    expect(states.stats).toEqual({ hits: 0, reads: 1 });
    expect(b).toBe(a);
    expect(c).toBe(a);
    expect(a.bytes).toBe(STATE_BYTES);
    expect(a.tensors.get('fc2.weight')).toHaveLength(2500);
    expect(await states.get(init)).toBe(a);
    expect(states.stats).toEqual({ hits: 1, reads: 1 });
  });

  it('evicts the least recently used state when the next does not fit', async () => {
    const { states } = cache(STATE_BYTES + STATE_BYTES / 2);
    await states.get(init);
    await states.get(final); // init goes out
    await states.get(final);
    expect(states.stats).toEqual({ hits: 1, reads: 2 });
    await states.get(init);
    expect(states.stats).toEqual({ hits: 1, reads: 3 });
  });

  it('with 0 bytes keeps nothing but still answers, and a state larger than the cache is returned', async () => {
    for (const maxBytes of [0, 100]) {
      const { states } = cache(maxBytes);
      const first = await states.get(final);
      const second = await states.get(final);
      expect(second).not.toBe(first);
      expect(Array.from(second.tensors.get('fc3.bias')!)).toEqual(Array.from(first.tensors.get('fc3.bias')!));
      expect(states.stats).toEqual({ hits: 0, reads: 2 });
    }
  });

  it('tells the sha256 of a full read where the registry did not know it', async () => {
    const { states, recorded } = cache(1024 ** 2);
    const unknown = { ...init, sha256: null };
    const state = await states.get(unknown);
    expect(recorded).toEqual([state.sha256]);
    expect(state.sha256).toBe(init.sha256);
  });
});

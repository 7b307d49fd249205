import { badUserInput } from '../errors.js';

/**
 * Which tensors move along a block-wise path. A block is any state_dict prefix at a dot boundary (`layer3`,
 * `layer3.1`, `fc`) or an alias of the architecture (`stem` → `conv1` + `bn1`). Only floating-point tensors
 * move; integer buffers (`num_batches_tracked`) are always taken from the end point.
 */
export interface BlockSelection {
  /** Tensors that are interpolated; `all` when every float tensor moves (the whole-model path). */
  moving: ReadonlySet<string> | 'all';
  /** The requested blocks, deduplicated and sorted; undefined for the whole model. */
  blocks: string[] | undefined;
  /** Sorted names of the moving tensors: the content the memo key is built from. */
  movingNames: string[];
}

export function selectBlocks(
  floatTensors: readonly string[],
  blocks: readonly string[] | null | undefined,
  context: { architecture: string; topLevel: readonly string[]; aliases: Readonly<Record<string, readonly string[]>> },
): BlockSelection {
  if (blocks == null) return { moving: 'all', blocks: undefined, movingNames: [...floatTensors].sort() };
  // The example prefix is one the model has (`layer3.1`), so that the message never suggests a name it refuses.
  const deeper = floatTensors.map((name) => name.split('.')).find((segments) => segments.length > 2);
  const known = () =>
    `e.g. ${context.topLevel.map((b) => `"${b}"`).join(', ')} or any state_dict prefix at a dot boundary${
      deeper === undefined ? '' : ` such as "${deeper.slice(0, 2).join('.')}"`
    }`;
  if (blocks.length === 0) {
    throw badUserInput('blocks: expected at least one block name (omit blocks to move the whole model), got []');
  }
  const moving = new Set<string>();
  for (const block of blocks) {
    if (block.trim() === '') throw badUserInput(`blocks: expected block names, got an empty name; ${known()}`);
    // Own properties only: "__proto__", "constructor" or "toString" name no alias, whatever Object.prototype holds.
    const prefixes = Object.hasOwn(context.aliases, block) ? context.aliases[block]! : [block];
    const matched = floatTensors.filter((name) => prefixes.some((p) => name === p || name.startsWith(`${p}.`)));
    if (matched.length === 0) {
      throw badUserInput(`blocks: "${block}" names no floating-point tensor of ${context.architecture}; ${known()}`);
    }
    for (const name of matched) moving.add(name);
  }
  const movingNames = [...moving].sort();
  const sortedBlocks = [...new Set(blocks)].sort();
  // Blocks that together cover the whole model are the whole-model path: same states, same memo.
  if (moving.size === floatTensors.length) return { moving: 'all', blocks: undefined, movingNames };
  return { moving, blocks: sortedBlocks, movingNames };
}

export type BnStatsMode = 'INTERPOLATE' | 'KEEP_TO' | 'RECOMPUTE';
export type TensorGroup = 'ALL' | 'WEIGHTS' | 'RUNNING_STATS';

/**
 * Narrows a block selection to a parameter group (the seed paper's Appendix F) and a BatchNorm mode:
 * WEIGHTS keeps every moving tensor but the running statistics, RUNNING_STATS only those; with KEEP_TO the
 * running statistics stay at `to` whatever the group, and with RECOMPUTE they do not move either (they are
 * replaced by recomputed ones at every α). `runningStats` names the model's BatchNorm running
 * means and variances.
 */
export function restrictSelection(
  selection: BlockSelection,
  floatTensors: readonly string[],
  runningStats: ReadonlySet<string>,
  options: { tensors: TensorGroup; bnStats: BnStatsMode; architecture: string },
): BlockSelection {
  const { tensors, bnStats } = options;
  if (tensors === 'ALL' && (bnStats === 'INTERPOLATE' || runningStats.size === 0)) return selection;
  const keep = (name: string) =>
    (tensors === 'ALL' || (tensors === 'WEIGHTS') !== runningStats.has(name)) &&
    !(bnStats !== 'INTERPOLATE' && runningStats.has(name));
  const movingNames = selection.movingNames.filter(keep);
  if (movingNames.length === 0) {
    const what = selection.blocks === undefined ? 'the model' : `blocks ${selection.blocks.join(', ')}`;
    throw badUserInput(
      `tensors: ${tensors} with bnStats ${bnStats} leaves no tensor of ${what} moving` +
        (runningStats.size === 0 ? ` (${options.architecture} has no BatchNorm running statistics)` : ''),
    );
  }
  if (movingNames.length === floatTensors.length) return { ...selection, moving: 'all', movingNames };
  return { moving: new Set(movingNames), blocks: selection.blocks, movingNames };
}

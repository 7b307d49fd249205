import type { Examples } from '../domain/examples.js';
import { interpolateState } from '../domain/interpolation.js';
import { emptyTally, tallyBatch, type LossTally } from '../domain/losses.js';
import { BatchNormRecomputer } from './bn-recompute.js';
import type { BoundModel, Engine, PreparedModel, StateMap } from './engine.js';
import { prefixCut, segmentGraph, suffixCut, type Cut } from './graph-cuts.js';
import type { ModelGraph } from './model-ir.js';

export interface EvaluatedPoint {
  alpha: number;
  tally: LossTally;
  durationMs: number;
}

/** Activations at cuts held at once by default (LINPATH_PREFIX_CACHE_MB): 512 MiB. */
export const DEFAULT_PREFIX_CACHE_BYTES = 512 * 2 ** 20;

interface EvaluationInputs {
  engine: Engine;
  graph: ModelGraph;
  from: StateMap;
  to: StateMap;
  examples: Examples;
  /**
   * When given, every BatchNorm's running statistics are recomputed at each α over these examples with the
   * interpolated weights (bn-recompute.ts), replacing whatever the interpolation gave them.
   */
  recomputeBatchNorm?: Examples | undefined;
  /** Examples per forward pass: bounds the engine's activation memory. */
  batchSize: number;
  /**
   * Most bytes of cached activations (see evaluatePaths) held at once; 0 turns prefix reuse off. Default
   * DEFAULT_PREFIX_CACHE_BYTES. At least one batch's activations are held whatever it says.
   */
  prefixCacheBytes?: number | undefined;
}

export interface EvaluateAlphasArgs extends EvaluationInputs {
  moving: ReadonlySet<string> | 'all';
  alphas: readonly number[];
  /** Called as each α completes, in order; a rejection stops the evaluation. */
  onPoint(point: EvaluatedPoint): Promise<void>;
  /** Told how the path is evaluated: from which cut, or naively and why. */
  onPlan?: ((plan: EvaluationPlan) => void) | undefined;
}

/** One path of an evaluatePaths call: the tensors that move along it and its alphas. */
export interface PathToEvaluate {
  moving: ReadonlySet<string> | 'all';
  alphas: readonly number[];
  /**
   * Called as each α completes, in order; a rejection stops the evaluation. When the examples' activations do not fit prefixCacheBytes at once, a path's points are
   * all reported after its last chunk.
   */
  onPoint(point: EvaluatedPoint): Promise<void>;
}

export interface EvaluatePathsArgs extends EvaluationInputs {
  paths: readonly PathToEvaluate[];
  /** Told once, before any work, how each path (by index) is evaluated. */
  onPlan?: ((plans: EvaluationPlan[]) => void) | undefined;
}

/**
 * How a path is evaluated. Per α only the ops from `cut` (the input when undefined) to `end` (the logits when
 * undefined) run at θ(α): the activations at `cut` are computed once at θ_to, and the ops from `end` on run at
 * θ_to, bound once (see evaluatePaths). Without either, every op runs per α: `reason` says why.
 */
export type EvaluationPlan =
  | { cut: Cut; end: Cut | undefined }
  | { cut: undefined; end: Cut; reason: string }
  | { cut: undefined; end: undefined; reason: string };

/**
 * Loss and accuracy at each α: θ(α) is built once per α, bound to the engine once, and the examples run
 * through it in batches. Losses are summed from the logits by domain/losses.ts, whatever the engine.
 * A block-wise path reuses the part of the network before its moving block (see evaluatePaths).
 */
export async function evaluateAlphas(args: EvaluateAlphasArgs): Promise<void> {
  const { moving, alphas, onPoint, onPlan, ...inputs } = args;
  await evaluatePaths({
    ...inputs,
    paths: [{ moving, alphas, onPoint }],
    ...(onPlan === undefined ? {} : { onPlan: (plans: EvaluationPlan[]) => onPlan(plans[0]!) }),
  });
}

/**
 * Several paths between the same two states over the same examples (a block-wise sweep). The ops before a
 * path's first moving op (graph-cuts.ts: up to the last cut before it) compute the same activations at every α,
 * those of θ_to: they run once per batch of examples. The ops after its last moving op (from the first cut after
 * it, the path's end) read θ_to's tensors at every α: they run per α but are bound once, at θ_to, so that per α
 * only the moving part is built and bound (for ONNX Runtime's initializer sessions, a session of that part
 * alone). One pass at θ_to, cut into segments at every path's cut and end, yields the activations at all of
 * them and is the θ_to part after every end, so a sweep over blocks shares it. The examples are taken in chunks
 * of whole batches whose activations at all cuts fit prefixCacheBytes; each α's state is bound once per chunk.
 * The batches are those of a naive evaluation, so the tallies add up in the same order; the numbers differ from
 * a naive evaluation's by float32 noise at most (an engine may fuse ops differently across a cut), as
 * test/compute/prefix-reuse.test.ts checks. A point whose state is θ_to itself (α = 1 of every path: the end of
 * every block-wise curve) is computed once for all the paths, by the pass at θ_to.
 *
 * Evaluated naively (every op per α): paths with every tensor moving or with neither a cut before nor one after
 * their moving ops, and every path when BatchNorm statistics are recomputed (the statistics of the layers
 * before the cut are recomputed too, from θ_to's weights, so θ_to's activations there are not the ones to reuse).
 */
export async function evaluatePaths(args: EvaluatePathsArgs): Promise<void> {
  const { graph, examples } = args;
  const perExample = graph.inputShape.reduce((a, b) => a * b, 1);
  if (examples.x.length !== examples.n * perExample || examples.labels.length !== examples.n) {
    throw new RangeError(`evaluatePaths: expected ${examples.n} examples of ${perExample} values with labels`);
  }
  const plans = args.paths.map((path) => planOf(args, path.moving));
  args.onPlan?.(plans);
  const reused = args.paths.flatMap((path, i) => {
    const { cut, end } = plans[i]!;
    return cut === undefined && end === undefined ? [] : [{ path, cut, end }];
  });
  if (reused.length === 0) {
    for (const path of args.paths) await evaluateNaively(args, path);
    return;
  }
  // Points whose state is θ_to itself (α = 1, along any path) have the same logits: computed once, by the pass
  // at θ_to, for all of them.
  const atTo = args.paths.map((path) => new Set(path.alphas.filter((alpha) => isStateTo(args, path.moving, alpha))));
  const shared = atTo.reduce((sum, set) => sum + set.size, 0);
  const atToPoint = await evaluateFromCuts(
    args,
    reused.map((r) => ({ ...r, atTo: atTo[args.paths.indexOf(r.path)]! })),
    shared,
  );
  for (const [i, path] of args.paths.entries()) {
    const { cut, end } = plans[i]!;
    if (cut === undefined && end === undefined) await evaluateNaively(args, path, { alphas: atTo[i]!, ...atToPoint });
  }
}

/** Whether θ(α) along a path moving `moving` is θ_to bit for bit (α = 1 with finite start values). */
function isStateTo(args: EvaluationInputs, moving: ReadonlySet<string> | 'all', alpha: number): boolean {
  if (Math.fround(alpha) !== 1 || Math.fround(1 - alpha) !== 0) return false;
  const state = interpolateState(args.from, args.to, alpha, moving);
  for (const [name, values] of state) {
    const to = args.to.get(name)!;
    if (values === to) continue;
    const a = new Uint32Array(values.buffer, values.byteOffset, values.length);
    const b = new Uint32Array(to.buffer, to.byteOffset, to.length);
    for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  }
  return true;
}

function planOf(args: EvaluationInputs, moving: ReadonlySet<string> | 'all'): EvaluationPlan {
  const naive = (reason: string) => ({ cut: undefined, end: undefined, reason });
  if (args.prefixCacheBytes === 0) return naive('prefix reuse is off (prefix cache size 0)');
  if (moving === 'all') return naive('every tensor moves');
  if (args.recomputeBatchNorm !== undefined) {
    return naive(
      "bnStats RECOMPUTE recomputes the statistics before the moving block too, so θ_to's activations there are not reused",
    );
  }
  if (args.graph.nodes.length === 0) {
    return naive('the architecture runs as its ONNX export, which linpath does not cut');
  }
  const cut = prefixCut(args.graph, moving);
  const end = suffixCut(args.graph, moving);
  if (cut !== undefined) return { cut, end };
  const reason = 'the first moving op comes before any cut of the graph';
  return end === undefined
    ? naive(reason)
    : { cut, end, reason: `${reason}; the ops from ${end.value} on are bound once` };
}

/** `known`: points already computed (θ_to's), reported in their place among the α. */
async function evaluateNaively(
  args: EvaluationInputs,
  path: PathToEvaluate,
  known?: { alphas: ReadonlySet<number>; tally: LossTally; durationMs: number },
): Promise<void> {
  await evaluateStates({
    ...args,
    points: path.alphas.map((alpha) =>
      known?.alphas.has(alpha) === true
        ? { known: { tally: known.tally, durationMs: known.durationMs } }
        : { state: () => interpolateState(args.from, args.to, alpha, path.moving) },
    ),
    onPoint: async (index, tally, durationMs) => path.onPoint({ alpha: path.alphas[index]!, tally, durationMs }),
  });
}

/** A state to evaluate (built when its turn comes, so only one is held at a time), or a tally known already. */
export type StateToEvaluate =
  { state: () => StateMap; known?: undefined } | { known: { tally: LossTally; durationMs: number }; state?: undefined };

export interface EvaluateStatesArgs extends Omit<EvaluationInputs, 'from' | 'to' | 'prefixCacheBytes'> {
  points: readonly StateToEvaluate[];
  /** Called as each point completes, in order, with its index in `points`; a rejection stops the evaluation. */
  onPoint(index: number, tally: LossTally, durationMs: number): Promise<void>;
}

/**
 * Loss and accuracy at each of some states, every op per state: the states of a path's α (evaluateNaively) or
 * combinations of several checkpoints (planes, curves). Each state is built, its BatchNorm statistics
 * recomputed when asked, bound to the engine once, and the examples run through it in batches.
 */
export async function evaluateStates(args: EvaluateStatesArgs): Promise<void> {
  const { engine, graph, examples, batchSize } = args;
  const prepared = await engine.prepare(graph);
  let recomputer: BatchNormRecomputer | undefined;
  try {
    if (args.recomputeBatchNorm !== undefined) recomputer = await BatchNormRecomputer.prepare(engine, graph);
    for (const [index, point] of args.points.entries()) {
      if (point.known !== undefined) {
        await args.onPoint(index, point.known.tally, point.known.durationMs);
        continue;
      }
      const started = performance.now();
      const built = point.state();
      const state =
        recomputer === undefined ? built : await recomputer.recompute(built, args.recomputeBatchNorm!, batchSize);
      const tally = await tallyOf(
        prepared,
        state,
        { x: examples.x, perExample: graph.inputShape.reduce((a, b) => a * b, 1), offset: 0 },
        examples,
        { start: 0, count: examples.n },
        batchSize,
        graph.outputs,
      );
      await args.onPoint(index, tally, performance.now() - started);
    }
  } finally {
    await recomputer?.dispose();
    await prepared.dispose();
  }
}

/**
 * `tally` plus the tally of examples [start, start + count) of `examples` at `state`, their inputs in the prepared
 * graph's input layout, `perExample` values each, read from `x` (which holds examples from `offset` on).
 */
async function tallyOf(
  prepared: PreparedModel,
  state: StateMap,
  input: { x: Float32Array; perExample: number; offset: number },
  examples: Examples,
  range: { start: number; count: number },
  batchSize: number,
  outputs: number,
  tally: LossTally = emptyTally(),
): Promise<LossTally> {
  const { x, perExample, offset } = input;
  const { start, count } = range;
  const bound = await prepared.bind(state, { examples: examples.n });
  try {
    for (let first = start; first < start + count; first += batchSize) {
      const n = Math.min(batchSize, start + count - first);
      const logits = await bound.logits(
        x.subarray((first - offset) * perExample, (first - offset + n) * perExample),
        n,
      );
      tally = tallyBatch(tally, logits, examples.labels.subarray(first, first + n), outputs);
    }
  } finally {
    await bound.dispose();
  }
  return tally;
}

interface ReusedPath {
  path: PathToEvaluate;
  cut: Cut | undefined;
  end: Cut | undefined;
  /** Its α whose state is θ_to. */
  atTo: ReadonlySet<number>;
}

/**
 * The reused paths of evaluatePaths. The boundaries are every path's cut and end; `chain` holds the segments
 * between them and the last one to the logits, each bound once at θ_to. Per chunk of examples one pass through
 * the chain stores the activations at every boundary (and tallies θ_to's point); per α a path runs only its
 * segment from its cut to its end at θ(α), then the chain's segments after its end.
 */
async function evaluateFromCuts(
  args: EvaluationInputs,
  reused: readonly ReusedPath[],
  /** Points at θ_to among all the paths: computed once, returned for the naive paths to report. */
  shared: number,
): Promise<{ tally: LossTally; durationMs: number }> {
  const { engine, graph, examples, batchSize } = args;
  const boundaries = [
    ...new Map(reused.flatMap(({ cut, end }) => [cut, end]).flatMap((c) => (c ? [[c.index, c]] : []))).values(),
  ].sort((a, b) => a.index - b.index);
  const at = (cut: Cut | undefined) => (cut === undefined ? -1 : boundaries.findIndex((b) => b.index === cut.index));
  const sizes = boundaries.map((cut) => cut.shape.reduce((a, b) => a * b, 1));
  const bytesPerExample = 4 * sizes.reduce((a, b) => a + b, 0);
  const budget = args.prefixCacheBytes ?? DEFAULT_PREFIX_CACHE_BYTES;
  const chunk = Math.max(1, Math.floor(budget / (bytesPerExample * batchSize))) * batchSize;
  const wholeAtOnce = chunk >= examples.n;
  const inputSize = graph.inputShape.reduce((a, b) => a * b, 1);
  const points = reused.reduce((sum, { path, atTo }) => sum + path.alphas.length - atTo.size, shared);
  const segmentKey = ({ cut, end }: ReusedPath) => `${at(cut)}:${at(end)}`;

  const prepared: PreparedModel[] = [];
  const chain: BoundModel[] = [];
  const segments = new Map<string, PreparedModel>();
  try {
    for (let k = 0; k <= boundaries.length; k++) {
      prepared.push(await engine.prepare(segmentGraph(graph, boundaries[k - 1], boundaries[k])));
      chain.push(await prepared.at(-1)!.bind(args.to, { examples: examples.n }));
    }
    for (const r of reused) {
      if (!segments.has(segmentKey(r)))
        segments.set(segmentKey(r), await engine.prepare(segmentGraph(graph, r.cut, r.end)));
    }
    /** Logits of a batch whose activations at boundary k are `values`, through the chain's segments after it. */
    const fromBoundary = async (k: number, values: Float32Array, n: number) => {
      let out = values;
      for (let j = k + 1; j < chain.length; j++) out = await chain[j]!.logits(out, n);
      return out;
    };
    const totals = reused.map(({ path }) => path.alphas.map(() => ({ tally: emptyTally(), durationMs: 0 })));
    const atTo = { tally: emptyTally(), durationMs: 0 };
    for (let start = 0; start < examples.n; start += chunk) {
      const count = Math.min(chunk, examples.n - start);
      const prefixStarted = performance.now();
      const activations = sizes.map((size) => new Float32Array(count * size));
      let atToMs = 0;
      for (let first = start; first < start + count; first += batchSize) {
        const n = Math.min(batchSize, start + count - first);
        let values = examples.x.subarray(first * inputSize, (first + n) * inputSize);
        for (const [k, size] of sizes.entries()) {
          values = await chain[k]!.logits(values, n);
          activations[k]!.set(values, (first - start) * size);
        }
        if (shared === 0) continue;
        const started = performance.now();
        const logits = await fromBoundary(sizes.length - 1, values, n);
        atTo.tally = tallyBatch(atTo.tally, logits, examples.labels.subarray(first, first + n), graph.outputs);
        atToMs += performance.now() - started;
      }
      const prefixShare = (performance.now() - prefixStarted - atToMs) / points;
      if (shared > 0) atTo.durationMs += atToMs / shared + prefixShare;
      for (const [p, r] of reused.entries()) {
        const { path, atTo: pathAtTo } = r;
        const from = at(r.cut);
        for (const [a, alpha] of path.alphas.entries()) {
          if (pathAtTo.has(alpha)) {
            if (wholeAtOnce) await path.onPoint({ alpha, ...atTo });
            continue;
          }
          const started = performance.now();
          const total = totals[p]![a]!;
          const bound = await segments
            .get(segmentKey(r))!
            .bind(interpolateState(args.from, args.to, alpha, path.moving), { examples: examples.n });
          try {
            for (let first = start; first < start + count; first += batchSize) {
              const n = Math.min(batchSize, start + count - first);
              const input =
                from === -1
                  ? examples.x.subarray(first * inputSize, (first + n) * inputSize)
                  : activations[from]!.subarray((first - start) * sizes[from]!, (first - start + n) * sizes[from]!);
              const out = await bound.logits(input, n);
              const logits = r.end === undefined ? out : await fromBoundary(at(r.end), out, n);
              total.tally = tallyBatch(total.tally, logits, examples.labels.subarray(first, first + n), graph.outputs);
            }
          } finally {
            await bound.dispose();
          }
          total.durationMs += performance.now() - started + prefixShare;
          if (wholeAtOnce) await path.onPoint({ alpha, ...total });
        }
      }
    }
    if (!wholeAtOnce) {
      for (const [p, { path, atTo: pathAtTo }] of reused.entries())
        for (const [a, alpha] of path.alphas.entries())
          await path.onPoint({ alpha, ...(pathAtTo.has(alpha) ? atTo : totals[p]![a]!) });
    }
    return atTo;
  } finally {
    await Promise.all(chain.map((bound) => bound.dispose()));
    await Promise.all([...prepared, ...segments.values()].map((model) => model.dispose()));
  }
}

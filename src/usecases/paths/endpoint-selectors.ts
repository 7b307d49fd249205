import { badUserInput, isLinpathError, notFound } from '../../errors.js';
import type { RegistryRepository } from '../../storage/registry.repository.js';
import type { CheckpointRef, CheckpointRow, RunRow } from '../../storage/registry.tables.js';
import type { CheckpointRole } from '../registry/checkpoints.usecases.js';

/**
 * Which checkpoint of each run a bulk request (sweep, correlation) takes as an end of its path:
 * - `{ role }`: the run's own checkpoint of that role (INITIAL, FINAL; INTERMEDIATE when it has one only);
 * - `{ role, step }`: the run's checkpoint of that role at that optimizer step (an intermediate by step);
 * - `{ run, role, step? }`: the checkpoint of another run, named, the same for every run;
 * - `{ randomSeed }`: a fresh PyTorch-default random initialisation of the run's architecture drawn with that
 *   seed, stored as a derived checkpoint of the run (shaped like its other end; made once, then reused) — the
 *   θ′_0 of the seed paper's Fig. 1A, for every run in one request.
 */
export interface EndpointSelector {
  role?: CheckpointRole | null | undefined;
  step?: number | null | undefined;
  run?: string | null | undefined;
  randomSeed?: number | null | undefined;
}

/** A role alone, or a selector; the role's default is the side's (INITIAL at α = 0, FINAL at α = 1). */
export type EndpointInput = CheckpointRole | EndpointSelector;

/** What resolving needs: the registry, and a way to draw a random state (absent: `randomSeed` is refused). */
export interface EndpointDeps {
  registry: RegistryRepository;
  randomInit?: (input: { like: string; seed: number; run: string }) => Promise<CheckpointRow>;
}

/** A checked selector: exactly one of its kinds. */
export type Endpoint =
  | { kind: 'own'; role: CheckpointRole; step: number | null }
  | { kind: 'other'; run: string; role: CheckpointRole; step: number | null }
  | { kind: 'random'; seed: number };

/** Checks a selector; BAD_USER_INPUT naming `field` and what it expected. */
export function checkEndpoint(
  field: string,
  input: EndpointInput | null | undefined,
  fallback: CheckpointRole,
): Endpoint {
  const selector: EndpointSelector = typeof input === 'string' ? { role: input } : (input ?? {});
  const { role, step, run, randomSeed } = selector;
  if (randomSeed != null) {
    if (role != null || step != null || run != null)
      throw badUserInput(
        `${field}: randomSeed draws a new state; it takes no role, step or run, got ${describe(selector)}`,
      );
    if (!Number.isSafeInteger(randomSeed) || randomSeed < 0)
      throw badUserInput(`${field}.randomSeed: expected an integer ≥ 0, got ${randomSeed}`);
    return { kind: 'random', seed: randomSeed };
  }
  if (step != null && (!Number.isSafeInteger(step) || step < 0))
    throw badUserInput(`${field}.step: expected an integer ≥ 0 (an optimizer step), got ${step}`);
  if (role != null && !['INITIAL', 'INTERMEDIATE', 'FINAL'].includes(role))
    throw badUserInput(`${field}.role: expected INITIAL, INTERMEDIATE or FINAL, got ${String(role)}`);
  const resolvedRole = role ?? (step != null ? 'INTERMEDIATE' : fallback);
  if (run != null) {
    if (run.trim() === '') throw badUserInput(`${field}.run: expected a run name, got ""`);
    return { kind: 'other', run, role: resolvedRole, step: step ?? null };
  }
  return { kind: 'own', role: resolvedRole, step: step ?? null };
}

/** The two ends differ (the same role and step of the runs themselves, or the same other checkpoint, is no path). */
export function checkEndpointPair(from: Endpoint, to: Endpoint): void {
  if (JSON.stringify(from) === JSON.stringify(to))
    throw badUserInput(`from and to must select different checkpoints, got ${label(from)} for both`);
}

/** A short description of a selector for messages and listings: "INITIAL", "INTERMEDIATE@100", "run x FINAL", "random seed 7". */
export function label(endpoint: Endpoint): string {
  const at = (role: string, step: number | null) => (step === null ? role : `${role}@${step}`);
  if (endpoint.kind === 'own') return at(endpoint.role, endpoint.step);
  if (endpoint.kind === 'other') return `run "${endpoint.run}" ${at(endpoint.role, endpoint.step)}`;
  return `random seed ${endpoint.seed}`;
}

/** C: the rows the caller gave (with or without tensor headers); a drawn or another run's checkpoint is a full row. */
export type ResolvedEnds<C extends CheckpointRef = CheckpointRow> =
  { from: C | CheckpointRow; to: C | CheckpointRow } | { missing: string };

/**
 * The end points of each run's path, or why it has none (a run without such a checkpoint is listed, never
 * dropped): `checkpoints` are those of `runs`. Another run named and not found is NOT_FOUND (it is the same
 * for every run); a random state is drawn after the other end is known, shaped like it.
 */
export async function resolveEndpoints<C extends CheckpointRef>(
  deps: EndpointDeps,
  runs: readonly Pick<RunRow, 'id'>[],
  checkpoints: readonly C[],
  from: Endpoint,
  to: Endpoint,
): Promise<Map<string, ResolvedEnds<C>>> {
  if ((from.kind === 'random' || to.kind === 'random') && deps.randomInit === undefined)
    throw badUserInput('randomSeed: random end points are not available in this request');
  if (from.kind === 'random' && to.kind === 'random')
    throw badUserInput('from and to: at most one end may be a random state (it is shaped like the other)');
  const others = new Map<string, CheckpointRow[]>();
  for (const endpoint of [from, to]) {
    if (endpoint.kind !== 'other' || others.has(endpoint.run)) continue;
    const run = await deps.registry.findRunByName(endpoint.run);
    if (run === undefined) throw notFound(`run "${endpoint.run}": no run of that name`);
    others.set(endpoint.run, await deps.registry.checkpointsOfRun(run.id));
  }
  // Each run's own checkpoints, in the order given: one pass, not a search of all checkpoints per run.
  const byRun = new Map<string, C[]>();
  for (const c of checkpoints) {
    const list = byRun.get(c.runId);
    if (list === undefined) byRun.set(c.runId, [c]);
    else list.push(c);
  }
  const result = new Map<string, ResolvedEnds<C>>();
  for (const run of runs) {
    const own = byRun.get(run.id) ?? [];
    const pick = (endpoint: Endpoint): C | CheckpointRow | string | undefined => {
      if (endpoint.kind === 'random') return undefined;
      const pool = endpoint.kind === 'own' ? own : others.get(endpoint.run)!;
      const matches = pool.filter(
        (c) => c.role === endpoint.role && (endpoint.step === null || c.step === endpoint.step),
      );
      const whose = endpoint.kind === 'own' ? 'the run' : `run "${endpoint.run}"`;
      if (matches.length === 0) return `${whose} has no ${label({ ...endpoint, kind: 'own' })} checkpoint`;
      if (matches.length > 1) {
        const steps = [...new Set(matches.map((c) => c.step))].sort((a, b) => a - b);
        return `${whose} has ${matches.length} ${endpoint.role} checkpoints (steps ${steps.join(', ')}); give a step`;
      }
      return matches[0]!;
    };
    const ends = { from: pick(from), to: pick(to) };
    const problem = [ends.from, ends.to].find((e): e is string => typeof e === 'string');
    if (problem !== undefined) {
      result.set(run.id, { missing: problem });
      continue;
    }
    try {
      const random = from.kind === 'random' ? from : to.kind === 'random' ? to : undefined;
      if (random !== undefined) {
        const like = (ends.from ?? ends.to) as C | CheckpointRow;
        const drawn = await deps.randomInit!({ like: like.id, seed: random.seed, run: run.id });
        result.set(run.id, from.kind === 'random' ? { from: drawn, to: like } : { from: like, to: drawn });
      } else {
        result.set(run.id, { from: ends.from as C | CheckpointRow, to: ends.to as C | CheckpointRow });
      }
    } catch (error) {
      // A run whose state cannot be drawn (no architecture) is listed, not fatal; a request that may not draw
      // (FORBIDDEN) is refused whole.
      if (!isLinpathError(error) || error.code === 'FORBIDDEN') throw error;
      result.set(run.id, { missing: `${error.code}: ${error.message}` });
    }
  }
  return result;
}

const describe = (selector: EndpointSelector): string =>
  JSON.stringify(Object.fromEntries(Object.entries(selector).filter(([, v]) => v != null)));

/**
 * The command-line form of a selector: `initial`, `final`, `intermediate` (a role); `step:100` (the run's
 * INTERMEDIATE checkpoint at step 100) or `final@300` (a role at a step); `run:<name>:<role>[@step]` (another
 * run's checkpoint); `random:<seed>` (a fresh seeded random initialisation per run).
 */
export function parseEndpoint(value: string): EndpointSelector {
  const text = value.trim();
  const roleAt = (spec: string): EndpointSelector | undefined => {
    const match = /^(initial|intermediate|final)(?:@(\d{1,15}))?$/i.exec(spec);
    if (match === null) return undefined;
    return {
      role: match[1]!.toUpperCase() as CheckpointRole,
      ...(match[2] === undefined ? {} : { step: Number(match[2]) }),
    };
  };
  const step = /^step:(\d{1,15})$/i.exec(text);
  if (step !== null) return { role: 'INTERMEDIATE', step: Number(step[1]) };
  const random = /^random:(\d{1,15})$/i.exec(text);
  if (random !== null) return { randomSeed: Number(random[1]) };
  const other = /^run:(.+):([^:]+)$/i.exec(text);
  if (other !== null) {
    const at = roleAt(other[2]!);
    if (at !== undefined) return { run: other[1]!, ...at };
  }
  const own = roleAt(text);
  if (own !== undefined) return own;
  throw badUserInput(
    `expected initial, intermediate, final (optionally @step), step:<n>, run:<name>:<role>[@step] or random:<seed>, got "${value}"`,
  );
}

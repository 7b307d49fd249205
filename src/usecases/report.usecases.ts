import { classifyLayerwise, type BarrierMetrics } from '../domain/barrier.metrics.js';
import type { CorrelationResult } from '../domain/correlation.js';
import { svgCurves } from '../domain/svg-curves.js';
import { badUserInput } from '../errors.js';
import type { RunRow } from '../storage/registry.tables.js';
import { checkEvaluationBudget, type AnalyticsDeps } from './analytics/analytics.deps.js';
import { checkGroupBy, valueAt } from '../domain/hyperparameters.js';
import { allRuns, compareValues } from './analytics/correlation.usecases.js';
import { DEFAULT_ALPHAS } from './paths/paths.usecases.js';
import { runCurves } from './analytics/report-curves.js';
import { correlateInSlices } from './analytics/statistics.js';
import type { RunFilterInput } from './registry/runs.usecases.js';
import { reportedMetrics } from '../domain/losses.js';
import {
  checkEndpoint,
  checkEndpointPair,
  label,
  resolveEndpoints,
  type EndpointInput,
} from './paths/endpoint-selectors.js';

export interface ReportInput {
  runs?: RunFilterInput | null | undefined;
  /** The dataset every path is evaluated on (a TEST split: its α = 1 point is the run's test accuracy). */
  dataset: string;
  /** The α = 0 end of each run's curves (a role or a selector, see paths/endpoint-selectors.ts); default INITIAL. */
  from?: EndpointInput | null | undefined;
  /** The α = 1 end (its accuracy is the table's accuracy); default FINAL. */
  to?: EndpointInput | null | undefined;
  /** Hyper-parameter paths whose values name an intervention (a row of the table). */
  groupBy?: readonly string[] | null | undefined;
  /** Must include 1 (test accuracy) and 0; default 0, 0.1, …, 1. */
  alphas?: readonly number[] | null | undefined;
  limit?: number | null | undefined;
  /** Also the block-wise curves of every run (default true). */
  blocks?: boolean | null | undefined;
  /** Most paths this report may queue for evaluation (default 500). */
  maxEvaluations?: number | null | undefined;
  timeoutMs?: number | null | undefined;
  title?: string | null | undefined;
}

export interface ReportRun {
  run: RunRow;
  whole: BarrierMetrics;
  blocks: Record<string, BarrierMetrics>;
  accuracy: number;
  curve: Array<{ alpha: number; loss: number | null }>;
}

export interface Summary {
  mean: number;
  std: number | null;
  n: number;
}

export interface ReportGroup {
  values: unknown[];
  label: string;
  runs: ReportRun[];
  /** Whole-model shape classes and their counts. */
  shapes: Record<string, number>;
  /** For each block, its shape classes and their counts. */
  blockShapes: Record<string, Record<string, number>>;
  accuracy: Summary;
  /** rise = max L − max(L(0), L(1)) of the whole-model curves: the barrier the paper means. */
  rise: Summary | null;
  riseAboveStart: Summary | null;
  /** Kept for paths between trained states; on init → final it tracks how far the loss fell. */
  frankleHeight: Summary | null;
  /** Runs with high / low layer-wise barriers (Table 1's H-LB / L-LB), and runs that cannot be told. */
  layerwise: { high: number; low: number; unknown: number };
  /** rise against test accuracy within the group. */
  correlation: CorrelationResult;
}

export interface StudyReport {
  title: string;
  /** The selected ends, as labels ("INITIAL", "INTERMEDIATE@100", 'run "x" INITIAL', "random seed 7"). */
  ends: { from: string; to: string };
  groupBy: string[];
  alphas: number[];
  groups: ReportGroup[];
  /** rise against test accuracy across every run of the report. */
  correlation: CorrelationResult;
  missing: Array<{ run: RunRow; reason: string }>;
  markdown: string;
  html: string;
}

const DEFAULT_REPORT_EVALUATIONS = 500;

/**
 * A table in the style of Vlaar & Frankle (2022), Table 1, from stored runs: one row per intervention
 * (the values of `groupBy`), with the shape classes of the whole-model curve between each run's selected ends
 * (`from` / `to`: INITIAL → FINAL by default; an intermediate by step, another run's state or a seeded random
 * initialisation per run, resolved by paths/endpoint-selectors.ts as for sweep and correlation) and of each
 * block-wise curve, the H-LB / L-LB counts (`classifyLayerwise` on the blocks' rises), test accuracy (mean ±
 * standard deviation over the runs, i.e. seeds), the rise of the whole-model curve, and the correlation of
 * rise with accuracy — as data, Markdown and HTML (with plots).
 * Missing curves are queued at once (bulk priority) and awaited; runs without them are listed with why.
 */
export async function studyReport(deps: AnalyticsDeps, input: ReportInput): Promise<StudyReport> {
  const alphas = [...new Set((input.alphas ?? DEFAULT_ALPHAS).map((a) => (a === 0 ? 0 : a)))].sort((a, b) => a - b);
  if (!alphas.includes(0) || !alphas.includes(1)) {
    throw badUserInput(
      `alphas: a report measures shapes against both end points, so alphas must include 0 and 1, got [${alphas.join(', ')}]`,
    );
  }
  const budget = input.maxEvaluations ?? DEFAULT_REPORT_EVALUATIONS;
  checkEvaluationBudget(budget, deps.limits);
  const maxWait = deps.paths.settings.maxWaitMs;
  const timeoutMs = input.timeoutMs ?? maxWait;
  if (!Number.isInteger(timeoutMs) || timeoutMs < 0 || timeoutMs > maxWait)
    throw badUserInput(`timeoutMs: expected an integer from 0 to ${maxWait} (LINPATH_MAX_WAIT_MS), got ${timeoutMs}`);
  const fromEnd = checkEndpoint('from', input.from, 'INITIAL');
  const toEnd = checkEndpoint('to', input.to, 'FINAL');
  checkEndpointPair(fromEnd, toEnd);
  const groupBy = [...(input.groupBy ?? [])];
  const runs = await allRuns(deps, input.runs);
  if (runs.length === 0) throw badUserInput('runs: the filter matches no run');
  checkGroupBy(
    groupBy,
    runs.map((r) => r.hyperparameters),
  );
  const checkpoints = await deps.paths.registry.checkpointsOfRuns(runs.map((r) => r.id));
  const ends = await resolveEndpoints(
    { registry: deps.paths.registry, randomInit: deps.randomInit },
    runs,
    checkpoints,
    fromEnd,
    toEnd,
  );

  // 1. Read every stored curve at once; queue the missing ones together and wait for them.
  const { curves, missing } = await runCurves(deps, runs, ends, {
    dataset: input.dataset,
    alphas,
    limit: input.limit,
    blocks: input.blocks !== false,
    budget,
    timeoutMs,
  });
  // 2. Each run's barriers and test accuracy (its α = 1 point).
  const done: ReportRun[] = curves.map((curve) => {
    const end = curve.whole.points.find((p) => p.alpha === 1)!;
    return {
      run: curve.run,
      whole: curve.whole.barriers.loss,
      blocks: Object.fromEntries(curve.blocks.map((b) => [b.block, b.barriers.loss])),
      accuracy: reportedMetrics(end).accuracy,
      curve: curve.whole.points.map((p) => ({ alpha: p.alpha, loss: reportedMetrics(p).loss })),
    };
  });

  // 3. Group and summarise.
  const keyOf = (run: RunRow) => groupBy.map((path) => valueAt(run.hyperparameters, path.split('.')) ?? null);
  const keys = [...new Map(done.map((r) => [JSON.stringify(keyOf(r.run)), keyOf(r.run)])).values()].sort(compareValues);
  const byKey = new Map<string, ReportRun[]>();
  for (const r of done) {
    const key = JSON.stringify(keyOf(r.run));
    const list = byKey.get(key);
    if (list === undefined) byKey.set(key, [r]);
    else list.push(r);
  }
  const groups: ReportGroup[] = [];
  for (const values of keys) {
    const members = byKey.get(JSON.stringify(values))!;
    const heights = members.flatMap((r) => (r.whole.rise === null ? [] : [{ x: r.whole.rise, y: r.accuracy }]));
    const levels = members.map(layerwiseLevel);
    groups.push({
      values,
      label:
        groupBy.length === 0
          ? 'all runs'
          : groupBy.map((path, i) => `${path} = ${JSON.stringify(values[i])}`).join(', '),
      runs: members,
      shapes: count(members.map((r) => r.whole.shape ?? 'UNDEFINED')),
      blockShapes: Object.fromEntries(
        [...new Set(members.flatMap((r) => Object.keys(r.blocks)))].map((block) => [
          block,
          count(members.map((r) => (Object.hasOwn(r.blocks, block) ? r.blocks[block]!.shape : null) ?? 'UNDEFINED')),
        ]),
      ),
      accuracy: summary(members.map((r) => r.accuracy))!,
      rise: summary(heights.map((h) => h.x)),
      riseAboveStart: summary(
        members.flatMap((r) => (r.whole.riseAboveStart === null ? [] : [r.whole.riseAboveStart])),
      ),
      frankleHeight: summary(members.flatMap((r) => (r.whole.frankleHeight === null ? [] : [r.whole.frankleHeight]))),
      layerwise: {
        high: levels.filter((l) => l === 'HIGH').length,
        low: levels.filter((l) => l === 'LOW').length,
        unknown: levels.filter((l) => l === null).length,
      },
      correlation: await correlateInSlices(
        heights.map((h) => h.x),
        heights.map((h) => h.y),
        { permutations: 2000, bootstrap: 1000 },
      ),
    });
  }
  const every = done.flatMap((r) => (r.whole.rise === null ? [] : [{ x: r.whole.rise, y: r.accuracy }]));
  const report = {
    title: input.title ?? 'Linear interpolation: shapes and test accuracy',
    ends: { from: label(fromEnd), to: label(toEnd) },
    groupBy,
    alphas,
    groups,
    correlation: await correlateInSlices(
      every.map((h) => h.x),
      every.map((h) => h.y),
      { permutations: 2000, bootstrap: 1000 },
    ),
    missing,
  };
  return { ...report, markdown: toMarkdown(report), html: toHtml(report) };
}

/**
 * H-LB when some block's rise exceeds 0.1 × the final loss (the rule of `blockwisePaths`), L-LB otherwise;
 * null when the run has no block-wise curves or its final loss is not a positive number.
 */
function layerwiseLevel(run: ReportRun): 'HIGH' | 'LOW' | null {
  const endLoss = run.curve.find((p) => p.alpha === 1)?.loss ?? null;
  const blocks = Object.entries(run.blocks);
  if (blocks.length === 0 || endLoss === null || !(endLoss > 0) || !Number.isFinite(endLoss)) return null;
  const heights = Object.fromEntries(blocks.map(([block, m]) => [block, m.rise ?? Number.POSITIVE_INFINITY]));
  return classifyLayerwise(heights, endLoss).summary === 'HIGH_LAYERWISE_BARRIERS' ? 'HIGH' : 'LOW';
}

function count(values: readonly string[]): Record<string, number> {
  const counts = new Map<string, number>();
  for (const value of values) counts.set(value, (counts.get(value) ?? 0) + 1);
  return Object.fromEntries(counts);
}

/** Mean and sample standard deviation (n − 1; null for one value). */
function summary(values: readonly number[]): Summary | null {
  if (values.length === 0) return null;
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  const std =
    values.length < 2 ? null : Math.sqrt(values.reduce((a, v) => a + (v - mean) ** 2, 0) / (values.length - 1));
  return { mean, std, n: values.length };
}

type ReportBody = Omit<StudyReport, 'markdown' | 'html'>;

const num = (value: number | null | undefined, digits = 4) =>
  value === null || value === undefined || !Number.isFinite(value) ? '—' : Number(value.toPrecision(digits)).toString();
const meanStd = (s: Summary | null, digits = 4) =>
  s === null ? '—' : `${num(s.mean, digits)} ± ${s.std === null ? '—' : num(s.std, 2)}`;
const shapes = (counts: Record<string, number>) =>
  Object.entries(counts)
    .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
    .map(([shape, n]) => `${shape} ${n}`)
    .join(', ');
const barrierBlocks = (group: ReportGroup) =>
  Object.entries(group.blockShapes)
    .map(([block, counts]) => `${block}: ${shapes(counts)}`)
    .join('; ') || '—';
const layerwise = (g: ReportGroup) =>
  `${g.layerwise.high} / ${g.layerwise.low}${g.layerwise.unknown > 0 ? ` (${g.layerwise.unknown} unknown)` : ''}`;
const endsLine = (report: ReportBody) => `${report.ends.from} → ${report.ends.to} of each run`;
const correlationLine = (c: CorrelationResult) =>
  `n = ${c.n}, Pearson r = ${num(c.pearson, 3)}${c.ci95 === null ? '' : ` (95% CI ${num(c.ci95.low, 3)} to ${num(c.ci95.high, 3)})`}, p = ${num(c.pValue, 3)}, Spearman ρ = ${num(c.spearman, 3)}, Kendall τ-b = ${num(c.kendall, 3)}`;

/**
 * Text from users (run names, titles, hyper-parameter values) as inert Markdown: no HTML, links, images, code
 * or emphasis markers, table cells or lines of its own, whatever renders the report.
 */
export function markdownText(text: string): string {
  return text
    .replace(/[\r\n]+/g, ' ')
    .replace(/[&<>]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;' })[c]!)
    .replace(/[\\`*[\]|!#~]/g, (c) => `\\${c}`);
}

function toMarkdown(report: ReportBody): string {
  const cell = markdownText;
  const lines = [
    `# ${markdownText(report.title)}`,
    '',
    `${markdownText(endsLine(report))}, α = ${report.alphas.join(', ')}; accuracy is the α = 1 point. Shapes: MONOTONIC_DECAY (never rises), BARRIER (rises by more than max(1e-4, 1% of the curve's range)), PLATEAU (flat, then drops near α = 1). rise = max L − max(L(0), L(1)), the barrier above both end points; H-LB / L-LB: runs with some block whose rise exceeds 0.1 × the final loss, and runs without.`,
    '',
    `| ${report.groupBy.length === 0 ? 'runs' : `intervention (${markdownText(report.groupBy.join(', '))})`} | n | whole model | block-wise | H-LB / L-LB | test accuracy | rise | rise above start | r (rise, accuracy) |`,
    '|---|---:|---|---|---|---:|---:|---:|---:|',
    ...report.groups.map(
      (g) =>
        `| ${cell(g.label)} | ${g.runs.length} | ${cell(shapes(g.shapes))} | ${cell(barrierBlocks(g))} | ${layerwise(g)} | ${meanStd(g.accuracy)} | ${meanStd(g.rise)} | ${meanStd(g.riseAboveStart)} | ${num(g.correlation.pearson, 3)} |`,
    ),
    '',
    `rise against test accuracy, all runs: ${correlationLine(report.correlation)}.`,
  ];
  if (report.missing.length > 0) {
    lines.push(
      '',
      `Left out (${report.missing.length}):`,
      '',
      ...report.missing.map((m) => `- ${markdownText(m.run.name)}: ${markdownText(m.reason)}`),
    );
  }
  return `${lines.join('\n')}\n`;
}

function toHtml(report: ReportBody): string {
  const e = (text: string) =>
    text.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);
  const rows = report.groups
    .map(
      (g) =>
        `<tr><td>${e(g.label)}</td><td>${g.runs.length}</td><td>${e(shapes(g.shapes))}</td><td>${e(barrierBlocks(g))}</td><td>${layerwise(g)}</td><td>${meanStd(g.accuracy)}</td><td>${meanStd(g.rise)}</td><td>${meanStd(g.riseAboveStart)}</td><td>${num(g.correlation.pearson, 3)}</td></tr>`,
    )
    .join('\n');
  const plots = report.groups
    .map((g) =>
      svgCurves(
        g.runs.map((r) => ({
          label: r.run.name,
          points: r.curve.flatMap((p) => (p.loss === null ? [] : [{ x: p.alpha, y: p.loss }])),
        })),
        { title: g.label, xLabel: 'α', yLabel: 'test loss' },
      ),
    )
    .join('\n');
  const left =
    report.missing.length === 0
      ? ''
      : `<h2>Left out</h2><ul>${report.missing.map((m) => `<li>${e(m.run.name)}: ${e(m.reason)}</li>`).join('')}</ul>`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${e(report.title)}</title>
<style>body{font-family:system-ui,sans-serif;margin:2rem;max-width:1100px}table{border-collapse:collapse}td,th{border-bottom:1px solid #ddd;padding:.3rem .6rem;text-align:left}.plots{display:flex;flex-wrap:wrap;gap:1rem}</style>
</head><body>
<h1>${e(report.title)}</h1>
<p>${e(endsLine(report))}, α = ${report.alphas.join(', ')}; accuracy is the α = 1 point.</p>
<table><thead><tr><th>${report.groupBy.length === 0 ? 'runs' : `intervention (${e(report.groupBy.join(', '))})`}</th><th>n</th><th>whole model</th><th>block-wise</th><th>H-LB / L-LB</th><th>test accuracy</th><th>rise</th><th>rise above start</th><th>r (rise, accuracy)</th></tr></thead>
<tbody>
${rows}
</tbody></table>
<p>rise against test accuracy, all runs: ${e(correlationLine(report.correlation))}.</p>
<h2>Whole-model curves</h2>
<div class="plots">
${plots}
</div>
${left}
</body></html>
`;
}

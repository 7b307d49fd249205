import * as Plot from '@observablehq/plot';
import { request } from '../api.js';
import { errorLine, fmt, h } from '../dom.js';
import {
  Fig1aRunDocument,
  RegistryDocument,
  RequestPathDocument,
  type Fig1aRunQuery,
  type PathStateFragment,
} from '../generated/graphql.js';

type RunData = Fig1aRunQuery['run'];

/** α = 0, 0.05, …, 1: the study's grid (21 points). */
const ALPHAS = Array.from({ length: 21 }, (_, i) => i / 20);
const OWN = 'own θ_0 (blue)';
const BLUE = '#1f77b4';
const GREEN = '#2ca02c';
const POLL_MS = 2000;

/** `#/fig1a?run=<id>`: the seed paper's Fig. 1A for one run. */
export const fig1aLink = (runId: string): string => `#/fig1a?run=${encodeURIComponent(runId)}`;

/**
 * The seed paper's Fig. 1A for one run: the loss along θ_0 → θ_T from the run's own initialisation (blue) and
 * from the other random initialisations stored with it (green: its DERIVED RANDOM_INIT checkpoints, made by
 * `linpath sweep --from random:<seed>`, the correlation's randomSeed or `linpath study spiral`), on the TRAIN and
 * TEST splits of its dataset, overlaid; below, the run's learning curve when linpath trained it. Missing points
 * are queued (wait: false) and the view polls until every curve is complete.
 */
export function fig1aView(root: HTMLElement, params: URLSearchParams): void {
  const status = h('div', { class: 'muted', 'aria-live': 'polite' }, 'Loading…');
  root.replaceChildren(h('h2', {}, 'Figure 1A: own and other initialisations'), status);
  const runId = params.get('run');
  if (runId === null) {
    request(RegistryDocument, {})
      .then((registry) => {
        const runs = registry.runs.edges.map((e) => e.node);
        const first = runs.find((r) => r.checkpoints.some((c) => c.role === 'FINAL'));
        if (first === undefined) status.replaceChildren('No run has a FINAL checkpoint yet.');
        else location.hash = fig1aLink(first.id);
      })
      .catch((error: Error) => status.replaceChildren(errorLine(error.message)));
    return;
  }
  request(Fig1aRunDocument, { id: runId })
    .then((data) => show(root, status, data))
    .catch((error: Error) => status.replaceChildren(errorLine(error.message)));
}

interface Curve {
  name: string;
  own: boolean;
  split: 'TRAIN' | 'TEST';
  input: { from: string; to: string; dataset: string };
  state: PathStateFragment | null;
  error: string | null;
}

function show(root: HTMLElement, status: HTMLElement, data: Fig1aRunQuery): void {
  const run = data.run;
  const initial = run.checkpoints.find((c) => c.role === 'INITIAL');
  const final = run.checkpoints.find((c) => c.role === 'FINAL');
  const others = run.checkpoints
    .filter((c) => c.derivation?.operation === 'RANDOM_INIT')
    .map((c) => ({ id: c.id, seed: (c.derivation!.arguments as { seed?: number }).seed }))
    .sort((a, b) => (a.seed ?? 0) - (b.seed ?? 0));
  const splits = (['TRAIN', 'TEST'] as const)
    .map((split) => ({ split, dataset: data.datasets.find((d) => d.name === run.datasetName && d.split === split) }))
    .flatMap((s) => (s.dataset === undefined ? [] : [{ split: s.split, dataset: s.dataset }]));
  const notes: HTMLElement[] = [];
  if (final === undefined)
    notes.push(h('p', {}, `${run.name} has no FINAL checkpoint: there is no θ_T to interpolate to.`));
  if (splits.length === 0)
    notes.push(
      h('p', {}, `No dataset named "${run.datasetName ?? '(none)'}" is registered: set the run's dataset name.`),
    );
  if (others.length === 0)
    notes.push(
      h(
        'p',
        { class: 'muted' },
        'No other initialisation is stored with this run. Make five with ',
        h(
          'code',
          {},
          `npx linpath sweep --runs 'name~${run.name}' --dataset ${run.datasetName ?? '<name>'}:train --from random:<seed>`,
        ),
        ' (one seed each).',
      ),
    );
  const curves: Curve[] = [];
  if (final !== undefined) {
    for (const { split, dataset } of splits) {
      if (initial !== undefined)
        curves.push({
          name: OWN,
          own: true,
          split,
          input: { from: initial.id, to: final.id, dataset: dataset.id },
          state: null,
          error: null,
        });
      for (const other of others)
        curves.push({
          name: `θ′_0 seed ${other.seed ?? '?'}`,
          own: false,
          split,
          input: { from: other.id, to: final.id, dataset: dataset.id },
          state: null,
          error: null,
        });
    }
  }
  const plots = h('div', { id: 'fig1a-plots' });
  const table = h('div', { id: 'fig1a-table' });
  root.replaceChildren(
    h('h2', {}, `Figure 1A: ${run.name}`),
    h(
      'p',
      { class: 'muted' },
      'Loss along θ(α) = (1 − α)·θ_0 + α·θ_T at α = 0, 0.05, …, 1, from the run’s own initialisation (blue) and from other random initialisations (green), on the train and test splits (Vlaar & Frankle 2022, Fig. 1A).',
    ),
    ...notes,
    status,
    plots,
    table,
    learningCurve(run),
  );
  let stopped = false;
  const refresh = async () => {
    if (stopped || !root.isConnected) return;
    await Promise.all(
      curves.map(async (curve) => {
        if (curve.state?.status === 'COMPLETE' || curve.error !== null) return;
        try {
          curve.state = (
            await request(RequestPathDocument, { input: { ...curve.input, alphas: ALPHAS, wait: false } })
          ).interpolationPath;
        } catch (error) {
          curve.error = (error as Error).message;
        }
      }),
    );
    draw(plots, table, curves);
    const pending = curves.filter(
      (c) => c.error === null && c.state?.status !== 'COMPLETE' && c.state?.status !== 'FAILED',
    );
    status.replaceChildren(
      pending.length === 0 ? '' : `${pending.length} of ${curves.length} curves still being evaluated…`,
    );
    plots.dataset.curves = String(curves.length);
    plots.dataset.settled = String(pending.length === 0);
    if (pending.length > 0) setTimeout(() => void refresh(), POLL_MS);
    else stopped = true;
  };
  void refresh();
}

function draw(plots: HTMLElement, table: HTMLElement, curves: Curve[]): void {
  const rows = curves.flatMap((c) =>
    (c.state?.points ?? [])
      .filter((p) => p.loss !== null)
      .map((p) => ({ alpha: p.alpha, loss: p.loss!, series: c.name, own: c.own, split: c.split })),
  );
  plots.replaceChildren(
    ...(['TRAIN', 'TEST'] as const)
      .filter((split) => curves.some((c) => c.split === split))
      .map((split) =>
        h(
          'figure',
          { class: `fig1a-${split.toLowerCase()}` },
          h('figcaption', {}, `${split.toLowerCase()} loss`),
          Plot.plot({
            width: 520,
            height: 340,
            marginLeft: 50,
            grid: true,
            x: { label: 'α' },
            y: { label: `${split.toLowerCase()} loss` },
            marks: [
              Plot.line(
                rows.filter((r) => r.split === split && !r.own),
                { x: 'alpha', y: 'loss', z: 'series', stroke: GREEN, strokeWidth: 1.4, strokeOpacity: 0.8 },
              ),
              Plot.line(
                rows.filter((r) => r.split === split && r.own),
                { x: 'alpha', y: 'loss', stroke: BLUE, strokeWidth: 2.6 },
              ),
              Plot.dot(
                rows.filter((r) => r.split === split),
                { x: 'alpha', y: 'loss', r: 1.5, fill: 'currentColor', tip: true, title: 'series' },
              ),
            ],
          }),
        ),
      ),
  );
  const shape = (c: Curve) => {
    const points = (c.state?.points ?? []).filter((p) => p.loss !== null);
    if (c.error !== null) return [c.error, '', ''];
    if (points.length < 2) return [c.state?.status ?? 'queued', '', ''];
    const start = points[0]!.loss!;
    const end = points[points.length - 1]!.loss!;
    const top = Math.max(...points.map((p) => p.loss!));
    return [`${fmt(start)} → ${fmt(end)}`, fmt(Math.max(0, top - Math.max(start, end))), fmt(Math.max(0, top - start))];
  };
  table.replaceChildren(
    h(
      'table',
      { class: 'fig1a-table' },
      h('tr', {}, ...['split', 'from', 'L(0) → L(1)', 'rise', 'rise above start', 'status'].map((t) => h('th', {}, t))),
      ...curves.map((c) => {
        const [ends, rise, above] = shape(c);
        return h(
          'tr',
          {},
          h('td', {}, c.split.toLowerCase()),
          h('td', { style: `color: ${c.own ? BLUE : GREEN}` }, c.name),
          h('td', {}, ends!),
          h('td', {}, rise!),
          h('td', {}, above!),
          h('td', {}, c.error !== null ? 'error' : (c.state?.status ?? '…')),
        );
      }),
    ),
  );
}

/** The run's per-epoch train and test loss, when linpath trained it (Run.learningCurve). */
function learningCurve(run: RunData): HTMLElement {
  const epochs = run.learningCurve;
  if (epochs.length === 0)
    return h('p', { class: 'muted' }, 'No learning curve: the run was not trained by linpath (trainRun).');
  const rows = epochs.flatMap((e) => [
    ...(e.trainLoss === null ? [] : [{ epoch: e.epoch, loss: e.trainLoss, series: 'train (running)' }]),
    ...(e.testLoss === null || e.testLoss === undefined ? [] : [{ epoch: e.epoch, loss: e.testLoss, series: 'test' }]),
  ]);
  const last = epochs[epochs.length - 1]!;
  return h(
    'figure',
    { class: 'fig1a-learning-curve' },
    h(
      'figcaption',
      {},
      `Learning curve: ${epochs.length} epochs; last train accuracy ${fmt(last.trainAccuracy)}, test accuracy ${fmt(last.testAccuracy ?? null)}`,
    ),
    Plot.plot({
      width: 520,
      height: 260,
      marginLeft: 50,
      grid: true,
      x: { label: 'epoch' },
      y: { label: 'loss' },
      color: { legend: true },
      marks: [Plot.line(rows, { x: 'epoch', y: 'loss', stroke: 'series' })],
    }),
  );
}

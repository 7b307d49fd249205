import * as Plot from '@observablehq/plot';
import { X_METRICS as X_METRIC_NAMES, Y_METRICS as Y_METRIC_NAMES } from '../../../src/domain/correlation-metrics.js';
import { RunFilterSyntaxError } from '../../../src/domain/run-filter-syntax.js';
import { request } from '../api.js';
import { errorLine, fmt, h } from '../dom.js';
import { exportButtons } from '../export.js';
import { plotWidth, redrawOnResize } from '../plot-size.js';
import {
  CorrelationDocument,
  RegistryDocument,
  type CorrelationQuery,
  type CorrelationX,
  type CorrelationY,
  type StatsFragment,
} from '../generated/graphql.js';
import { parseAlphaList } from '../../../src/domain/alphas.js';
import { readFilter } from './runs.js';

const X_METRICS: readonly CorrelationX[] = X_METRIC_NAMES;
const Y_METRICS: readonly CorrelationY[] = Y_METRIC_NAMES;
/** How often a correlation with queued evaluations is asked again. */
const POLL_MS = 1500;

type Report = CorrelationQuery['correlation'];

/** Scatter of a barrier metric (or distance) against accuracy or loss across runs, with coefficients per group. */
export function correlationView(root: HTMLElement): void {
  const status = h('div', { class: 'muted' }, 'Loading the registry…');
  root.replaceChildren(h('h2', {}, 'Barrier vs. accuracy'), status);
  request(RegistryDocument, {})
    .then(({ datasets }) => build(root, datasets))
    .catch((error: Error) => status.replaceChildren(errorLine(error.message)));
}

function build(
  root: HTMLElement,
  datasets: Array<{ id: string; name: string; split: string; exampleCount: number }>,
): void {
  const select = (id: string, label: string, values: readonly string[], selected: string) =>
    h(
      'select',
      { id, 'aria-label': label },
      ...values.map((v) => h('option', { value: v, selected: v === selected }, v.toLowerCase().replace(/_/g, ' '))),
    );
  const xSelect = select('corr-x', 'x metric', X_METRICS, 'RISE');
  const ySelect = select('corr-y', 'y metric', Y_METRICS, 'TEST_ACCURACY');
  const yMetric = h('input', {
    id: 'corr-y-metric',
    size: 14,
    placeholder: 'reported metric',
    'aria-label': 'Reported metric',
  });
  const fromRole = select('corr-from', 'from', ['INITIAL', 'INTERMEDIATE', 'FINAL'], 'INITIAL');
  const toRole = select('corr-to', 'to', ['INITIAL', 'INTERMEDIATE', 'FINAL'], 'FINAL');
  const datasetSelect = h(
    'select',
    { id: 'corr-dataset', 'aria-label': 'Dataset of the paths' },
    // Default: each run on the TEST split of its own dataset, never one dataset for runs of another task.
    h('option', { value: '', selected: true }, "each run's own test split"),
    ...datasets.map((d) => h('option', { value: d.id }, `${d.name} · ${d.split.toLowerCase()} (${d.exampleCount})`)),
  );
  const alphas = h('input', { id: 'corr-alphas', value: '0:1:0.1', size: 12, 'aria-label': 'Alphas' });
  const groupBy = h('input', {
    id: 'corr-group',
    size: 14,
    placeholder: 'e.g. seed',
    'aria-label': 'Colour by hyper-parameter',
  });
  const filter = h('input', {
    id: 'corr-filter',
    type: 'search',
    size: 36,
    placeholder: 'runs: all, or name~…, tag=…, hp.lr>=…',
    'aria-label': 'Runs',
  });
  const budget = h('input', {
    id: 'corr-budget',
    type: 'number',
    min: 0,
    value: 50,
    size: 5,
    'aria-label': 'Most evaluations to queue',
  });
  const message = h('div', { 'aria-live': 'polite' });
  const plotBox = h('div', { id: 'corr-plot', 'data-points': 0 });
  const stats = h('div', { id: 'corr-stats' });
  let report: Report | null = null;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let generation = 0;

  /** `evaluate` false (on opening): what is stored only, nothing queued until the person asks. */
  const run = async (evaluate = true) => {
    clearTimeout(timer);
    const mine = ++generation;
    let input;
    try {
      input = {
        runs: readFilter(filter.value),
        x: xSelect.value as CorrelationX,
        y: ySelect.value as CorrelationY,
        yMetric: ySelect.value === 'REPORTED' ? yMetric.value.trim() : null,
        path: {
          from: fromRole.value as 'INITIAL',
          to: toRole.value as 'FINAL',
          dataset: datasetSelect.value === '' ? null : datasetSelect.value,
          alphas: parseAlphaList(alphas.value),
        },
        groupBy: groupBy.value.trim() === '' ? null : [groupBy.value.trim()],
        maxEvaluations: evaluate ? Number(budget.value) : 0,
        permutations: 2000,
        bootstrap: 1000,
        wait: false,
      };
    } catch (error) {
      if (!(error instanceof RunFilterSyntaxError) && !(error instanceof Error)) throw error;
      message.replaceChildren(errorLine((error as Error).message));
      return;
    }
    message.textContent = 'Computing…';
    try {
      report = (await request(CorrelationDocument, { input })).correlation;
    } catch (error) {
      if (mine === generation) message.replaceChildren(errorLine((error as Error).message));
      return;
    }
    if (mine !== generation) return;
    const { done, total, pendingPaths } = report.progress;
    message.replaceChildren(
      pendingPaths > 0
        ? h(
            'span',
            {},
            h('progress', { max: Math.max(total, 1), value: done }),
            ` evaluating: ${done}/${total} points, ${pendingPaths} path(s) left`,
          )
        : h(
            'span',
            { class: 'muted' },
            `${report.points.length} run(s) correlated, ${report.missing.length} missing${evaluate || report.missing.length === 0 ? '' : ' (from stored points only: press Correlate to evaluate what is missing)'}`,
          ),
    );
    draw(report);
    if (pendingPaths > 0) timer = setTimeout(() => void run(), POLL_MS);
  };

  const draw = (r: Report) => {
    plotBox.dataset.points = String(r.points.length);
    plotBox.replaceChildren(
      scatter(r, xSelect.value, ySelect.value === 'REPORTED' ? yMetric.value : ySelect.value, plotWidth(plotBox)),
    );
    stats.replaceChildren(statsTable(r), missingList(r));
  };
  redrawOnResize(plotBox, () => report !== null && draw(report));

  const form = h(
    'form',
    { class: 'toolbar', onsubmit: (event: Event) => (event.preventDefault(), void run()) },
    h('label', {}, 'x ', xSelect),
    h('label', {}, 'y ', ySelect, ' ', yMetric),
    h('label', {}, 'path ', fromRole, ' → ', toRole),
    h('label', {}, 'on ', datasetSelect),
    h('label', {}, 'α ', alphas),
    h('label', {}, 'colour by ', groupBy),
    h('label', {}, filter),
    h('label', {}, 'evaluate at most ', budget),
    h('button', { type: 'submit', id: 'corr-run' }, 'Correlate'),
  );
  root.replaceChildren(
    h('h2', {}, 'Barrier vs. accuracy'),
    form,
    message,
    plotBox,
    h(
      'div',
      { class: 'toolbar' },
      exportButtons(
        () => plotBox.querySelector<SVGSVGElement>('svg[viewBox]'),
        () => ({
          columns: ['run', 'x', 'y', 'group'],
          rows: (report?.points ?? []).map((p) => [p.run.name, p.x, p.y, p.group]),
        }),
        () => `linpath-correlation-${xSelect.value.toLowerCase()}-${ySelect.value.toLowerCase()}`,
      ),
    ),
    stats,
  );
  if (datasets.length > 0) void run(false);
}

function scatter(r: Report, x: string, y: string, width: number): Element {
  if (r.points.length === 0) return h('p', { class: 'muted' }, 'No run has both values yet.');
  const data = r.points.map((p) => ({
    x: p.x,
    y: p.y,
    run: p.run.name,
    group: p.group === null ? 'all runs' : (JSON.parse(p.group) as unknown[]).join(', '),
  }));
  return Plot.plot({
    width,
    height: 420,
    marginLeft: 60,
    grid: true,
    x: { label: x.toLowerCase().replace(/_/g, ' ') },
    y: { label: y.toLowerCase().replace(/_/g, ' ') },
    color: { legend: true, type: 'categorical' },
    marks: [
      // The 95% band of the fit can reach far beyond the points: drawn inside the frame only.
      Plot.linearRegressionY(data, { x: 'x', y: 'y', stroke: '#999', strokeDasharray: '4,3', clip: true }),
      Plot.dot(data, {
        x: 'x',
        y: 'y',
        fill: 'group',
        r: 5,
        stroke: 'white',
        title: (d: { run: string }) => d.run,
        tip: true,
      }),
    ],
  });
}

function statsTable(r: Report): HTMLElement {
  const row = (name: string, s: StatsFragment) =>
    h(
      'tr',
      { 'data-group': name },
      h('td', {}, name),
      h('td', { class: 'number' }, String(s.n)),
      h('td', { class: 'number' }, fmt(s.pearson, 3)),
      h('td', { class: 'number' }, s.ci95 === null ? '—' : `[${fmt(s.ci95.low, 3)}, ${fmt(s.ci95.high, 3)}]`),
      h('td', { class: 'number' }, fmt(s.pValue, 3)),
      h('td', { class: 'number' }, fmt(s.spearman, 3)),
      h('td', { class: 'number' }, fmt(s.kendall, 3)),
    );
  return h(
    'table',
    { class: 'data', id: 'corr-table' },
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        ...['group', 'n', 'Pearson r', '95% CI (bootstrap)', 'p (permutation)', 'Spearman ρ', 'Kendall τ-b'].map((t) =>
          h('th', {}, t),
        ),
      ),
    ),
    h('tbody', {}, row('all runs', r.overall), ...r.groups.map((g) => row(g.values.map(String).join(', '), g.overall))),
  );
}

function missingList(r: Report): HTMLElement {
  if (r.missing.length === 0) return h('span');
  return h(
    'details',
    {},
    h('summary', {}, `${r.missing.length} run(s) left out`),
    h('ul', {}, ...r.missing.map((m) => h('li', {}, `${m.run.name}: ${m.reason}`))),
  );
}

import * as Plot from '@observablehq/plot';
import { request, subscribe } from '../api.js';
import { errorLine, fmt, h } from '../dom.js';
import { exportButtons } from '../export.js';
import { plotWidth, redrawOnResize } from '../plot-size.js';
import {
  PathUpdatedDocument,
  PathWithBarriersDocument,
  RegistryDocument,
  RequestPathDocument,
  type BnStatsMode,
  type CurveKind,
  type PathStateFragment,
  type TensorGroup,
  type RegistryQuery,
  type ShapeFragment,
} from '../generated/graphql.js';
import { parseAlphaList } from '../../../src/domain/alphas.js';
import { followCurve } from './curve-series.js';

type Registry = RegistryQuery;
type RunEntry = Registry['runs']['edges'][number]['node'];

/** `#/path?...`: a run (its INITIAL → FINAL on its TEST split) or explicit end points and dataset. */
export function pathLink(params: {
  run?: string;
  from?: string;
  to?: string;
  dataset?: string;
  alphas?: string;
  limit?: string;
  blockwise?: string;
  bn?: string;
  tensors?: string;
  bend?: string;
  curve?: string;
}): string {
  const query = new URLSearchParams(Object.entries(params).filter((e): e is [string, string] => e[1] !== undefined));
  return `#/path?${query}`;
}

export interface Series {
  name: string;
  /** A curve through a bend (t in the place of α), drawn solid and thick; null for the straight line's curves. */
  curve: { bend: string; kind: CurveKind } | null;
  blocks: string[] | null;
  id: string | null;
  status: string;
  done: number;
  total: number;
  etaSeconds: number | null;
  failure: string | null;
  points: Map<number, { loss: number | null; accuracy: number }>;
  barrier: ShapeFragment | null;
  errorBarrier: ShapeFragment | null;
  stop?: () => void;
}

const WHOLE = 'whole model';

export function pathView(root: HTMLElement, params: URLSearchParams): void {
  const status = h('div', { class: 'muted', 'aria-live': 'polite' }, 'Loading the registry…');
  root.replaceChildren(h('h2', {}, 'Interpolation curves'), status);
  request(RegistryDocument, {})
    .then((registry) => build(root, registry, params))
    .catch((error: Error) => status.replaceChildren(errorLine(error.message)));
}

function build(root: HTMLElement, registry: Registry, params: URLSearchParams): void {
  const runs = registry.runs.edges.map((e) => e.node);
  const checkpoints = runs.flatMap((run) => run.checkpoints.map((c) => ({ ...c, run })));
  const option = (value: string, label: string, selected: boolean) => h('option', { value, selected }, label);
  const checkpointOptions = (selected: string | undefined) =>
    checkpoints.map((c) => option(c.id, `${c.run.name} · ${c.role.toLowerCase()} · step ${c.step}`, c.id === selected));

  // Opened from the nav bar (no run, no end points): the first run with both end points, not from = to.
  const run =
    runs.find((r) => r.id === params.get('run')) ??
    (params.has('from')
      ? undefined
      : runs.find(
          (r) => r.checkpoints.some((c) => c.role === 'INITIAL') && r.checkpoints.some((c) => c.role === 'FINAL'),
        ));
  const defaults = run === undefined ? undefined : runDefaults(run, registry);
  const fromSelect = h(
    'select',
    { id: 'path-from', 'aria-label': 'From (α = 0)' },
    ...checkpointOptions(params.get('from') ?? defaults?.from),
  );
  const toSelect = h(
    'select',
    { id: 'path-to', 'aria-label': 'To (α = 1)' },
    ...checkpointOptions(params.get('to') ?? defaults?.to),
  );
  const datasetSelect = h(
    'select',
    { id: 'path-dataset', 'aria-label': 'Dataset' },
    // A run that names no dataset gets none chosen for it: curves on another task's data would mislead.
    h(
      'option',
      { value: '', selected: (params.get('dataset') ?? defaults?.dataset) === undefined },
      'choose a dataset',
    ),
    ...registry.datasets.map((d) =>
      option(
        d.id,
        `${d.name} · ${d.split.toLowerCase()} (${d.exampleCount})`,
        d.id === (params.get('dataset') ?? defaults?.dataset),
      ),
    ),
  );
  const alphasBox = h('input', {
    id: 'path-alphas',
    value: params.get('alphas') ?? '0:1:0.1',
    size: 18,
    'aria-label': 'Alphas',
  });
  const limitBox = h('input', {
    id: 'path-limit',
    type: 'number',
    min: 1,
    value: params.get('limit') ?? '',
    placeholder: 'all',
    size: 6,
    'aria-label': 'Examples',
  });
  const blockwise = h('input', { id: 'path-blockwise', type: 'checkbox', checked: params.get('blockwise') !== 'off' });
  const bnStats = h(
    'select',
    { id: 'path-bn', 'aria-label': 'BatchNorm running statistics' },
    h('option', { value: 'INTERPOLATE' }, 'BN stats move with α'),
    h('option', { value: 'KEEP_TO' }, 'BN stats stay at “to”'),
    // The server's defaults: the TRAIN split of the chosen dataset's name, its first min(2048, all) examples.
    h('option', { value: 'RECOMPUTE' }, 'BN stats recomputed at each α (train split)'),
  );
  bnStats.value = params.get('bn') ?? 'INTERPOLATE';
  const tensors = h(
    'select',
    { id: 'path-tensors', 'aria-label': 'Tensors that move' },
    h('option', { value: 'ALL' }, 'all tensors move'),
    h('option', { value: 'WEIGHTS' }, 'weights only'),
    h('option', { value: 'RUNNING_STATS' }, 'running statistics only'),
  );
  tensors.value = params.get('tensors') ?? 'ALL';
  // A curve through a bend next to the straight line (curvePath): Garipov et al.'s Bezier or polychain.
  const bendSelect = h(
    'select',
    { id: 'path-bend', 'aria-label': 'Curve through a bend' },
    option('', 'no curve', !params.has('bend')),
    ...checkpointOptions(params.get('bend') ?? undefined),
  );
  const curveKind = h(
    'select',
    { id: 'path-curve', 'aria-label': 'Kind of curve' },
    h('option', { value: 'BEZIER' }, 'Bezier'),
    h('option', { value: 'POLYCHAIN' }, 'polychain'),
  );
  curveKind.value = params.get('curve') ?? 'BEZIER';
  const message = h('div', { 'aria-live': 'polite' });
  const progress = h('progress', { id: 'path-progress', max: 1, value: 0, hidden: true });
  const progressText = h('span', { id: 'path-progress-text', class: 'muted' });
  const tabs = h('div', { class: 'tabs', role: 'tablist' });
  const plotBox = h('div', { id: 'path-plot', 'data-series': 0, 'data-points': 0 });
  const table = h('tbody');
  let metric: 'loss' | 'error' = 'loss';
  let series: Series[] = [];
  let frame = 0;

  const render = () => {
    cancelAnimationFrame(frame);
    frame = requestAnimationFrame(() => draw());
  };
  const draw = () => {
    const done = series.reduce((sum, s) => sum + s.done, 0);
    const total = series.reduce((sum, s) => sum + s.total, 0);
    const settled = series.every((s) => ['COMPLETE', 'FAILED', 'PARTIAL', 'ERROR'].includes(s.status));
    progress.hidden = total === 0 || settled;
    progress.max = Math.max(total, 1);
    progress.value = done;
    const eta = Math.max(0, ...series.map((s) => s.etaSeconds ?? 0));
    progressText.textContent =
      total === 0
        ? ''
        : `${done}/${total} points${settled ? '' : ` · ${series.filter((s) => s.status === 'RUNNING').length} running${eta > 0 ? ` · ~${Math.ceil(eta)} s left` : ''}`}`;
    plotBox.replaceChildren(curvePlot(series, metric, plotWidth(plotBox)));
    plotBox.dataset.series = String(series.filter((s) => s.points.size > 0).length);
    plotBox.dataset.points = String(series.reduce((sum, s) => sum + s.points.size, 0));
    plotBox.dataset.settled = String(settled && series.length > 0);
    table.replaceChildren(...series.map((s) => seriesRow(s, metric)));
  };
  redrawOnResize(plotBox, render);

  for (const name of ['loss', 'error'] as const) {
    tabs.append(
      h(
        'button',
        {
          type: 'button',
          role: 'tab',
          id: `tab-${name}`,
          'aria-selected': String(name === metric),
          onclick: (event: Event) => {
            metric = name;
            for (const tab of tabs.children) tab.setAttribute('aria-selected', String(tab === event.currentTarget));
            render();
          },
        },
        name === 'loss' ? 'Loss' : 'Error (1 − accuracy)',
      ),
    );
  }

  const show = async () => {
    for (const s of series) s.stop?.();
    message.replaceChildren();
    let alphas: number[];
    try {
      alphas = parseAlphaList(alphasBox.value);
    } catch (error) {
      message.replaceChildren(errorLine((error as Error).message));
      return;
    }
    if (datasetSelect.value === '') {
      message.replaceChildren(
        errorLine(
          'Choose the dataset to evaluate on: this run names none (set it with `linpath run update <run> --dataset <name>`).',
        ),
      );
      return;
    }
    const to = checkpoints.find((c) => c.id === toSelect.value);
    const blocks = blockwise.checked ? (to?.blocks ?? []) : [];
    const limit = limitBox.value === '' ? null : Number(limitBox.value);
    const bend = checkpoints.find((c) => c.id === bendSelect.value);
    const curve = bend === undefined ? null : { bend: bend.id, kind: curveKind.value as CurveKind };
    series = [
      ...[null, ...blocks].map((block) => ({ name: block ?? WHOLE, block, curve: null })),
      ...(bend === undefined
        ? []
        : [
            {
              name: `${curveKind.value.toLowerCase()} via ${bend.role.toLowerCase()} · step ${bend.step}`,
              block: null,
              curve,
            },
          ]),
    ].map(({ name, block, curve }) => ({
      name,
      curve,
      blocks: block === null ? null : [block],
      id: null,
      status: 'REQUESTING',
      done: 0,
      total: alphas.length,
      etaSeconds: null,
      failure: null,
      points: new Map(),
      barrier: null,
      errorBarrier: null,
    }));
    // Everything that shapes the plot goes into the URL, so that a link shows the same curves.
    location.hash = pathLink({
      from: fromSelect.value,
      to: toSelect.value,
      dataset: datasetSelect.value,
      alphas: alphasBox.value,
      ...(limitBox.value === '' ? {} : { limit: limitBox.value }),
      ...(blockwise.checked ? {} : { blockwise: 'off' }),
      ...(bnStats.value === 'INTERPOLATE' ? {} : { bn: bnStats.value }),
      ...(tensors.value === 'ALL' ? {} : { tensors: tensors.value }),
      ...(bend === undefined
        ? {}
        : { bend: bend.id, ...(curveKind.value === 'BEZIER' ? {} : { curve: curveKind.value }) }),
    });
    render();
    const request: Request = {
      from: fromSelect.value,
      to: toSelect.value,
      dataset: datasetSelect.value,
      alphas,
      limit,
      bnStats: bnStats.value as BnStatsMode,
      tensors: tensors.value as TensorGroup,
    };
    await Promise.all(
      series.map((s) =>
        s.curve === null
          ? follow(s, request, render)
          : followCurve(
              s,
              {
                from: request.from,
                to: request.to,
                bend: s.curve.bend,
                kind: s.curve.kind,
                dataset: request.dataset,
                ts: alphas,
                limit: request.limit,
                bnStats: request.bnStats,
              },
              render,
            ),
      ),
    );
  };

  const form = h(
    'form',
    { class: 'toolbar', onsubmit: (event: Event) => (event.preventDefault(), void show()) },
    h('label', {}, 'from ', fromSelect),
    h('label', {}, 'to ', toSelect),
    h('label', {}, 'on ', datasetSelect),
    h('label', {}, 'α ', alphasBox),
    h('label', {}, 'examples ', limitBox),
    h('label', {}, blockwise, ' block-wise curves'),
    bnStats,
    tensors,
    h('label', {}, 'curve via ', bendSelect, ' ', curveKind),
    h('button', { type: 'submit', id: 'path-show' }, 'Show'),
  );
  root.replaceChildren(
    h('h2', {}, 'Interpolation curves'),
    form,
    message,
    h('div', { class: 'toolbar' }, tabs, progress, progressText),
    plotBox,
    h(
      'div',
      { class: 'toolbar' },
      exportButtons(
        () => plotBox.querySelector<SVGSVGElement>('svg[viewBox]'),
        () => ({
          columns: ['series', 'alpha', 'loss', 'accuracy'],
          rows: series.flatMap((s) =>
            [...s.points].sort((a, b) => a[0] - b[0]).map(([alpha, p]) => [s.name, alpha, p.loss, p.accuracy]),
          ),
        }),
        () => `linpath-path-${metric}`,
      ),
    ),
    h(
      'table',
      { class: 'data', id: 'path-series' },
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          ...['curve', 'status', 'points', 'shape', 'rise', 'rise above start', 'MLI Δ', 'α of barrier peak'].map((t) =>
            h('th', {}, t),
          ),
        ),
      ),
      table,
    ),
    h(
      'p',
      { class: 'muted' },
      'The whole model is dashed; each block-wise curve moves only that block, the rest staying at “to” (Vlaar & Frankle 2022). Shapes are classified on α ∈ [0, 1] only (points outside are drawn, not classified); a triangle marks the peak of each curve classified BARRIER. rise = max L − max(L(0), L(1)), rise above start = max L − L(0), MLI Δ = the largest bump (Lucas et al. 2021). A curve via a bend (thick, solid) runs from “from” at t = 0 through the bend to “to” at t = 1, a quadratic Bezier or a polychain (Garipov et al. 2018), drawn with t on the α axis; its row gives its barrier next to the straight line’s.',
    ),
  );
  if (run !== undefined && datasetSelect.value === '') {
    message.replaceChildren(
      errorLine(
        `Run ${run.name} names no dataset: choose the one to evaluate on (or set it with \`linpath run update ${run.name} --dataset <name>\`).`,
      ),
    );
  }
  if (
    fromSelect.value !== '' &&
    toSelect.value !== '' &&
    datasetSelect.value !== '' &&
    (params.has('run') || params.has('from'))
  )
    void show();
}

/** The INITIAL → FINAL checkpoints of a run and the TEST split of its dataset. */
function runDefaults(run: RunEntry, registry: Registry) {
  const dataset =
    registry.datasets.find((d) => d.name === run.datasetName && d.split === 'TEST') ??
    registry.datasets.find((d) => d.name === run.datasetName);
  return {
    from: run.checkpoints.find((c) => c.role === 'INITIAL')?.id,
    to: run.checkpoints.find((c) => c.role === 'FINAL')?.id,
    dataset: dataset?.id,
  };
}

interface Request {
  from: string;
  to: string;
  dataset: string;
  alphas: number[];
  limit: number | null;
  bnStats: BnStatsMode;
  tensors: TensorGroup;
}

/** Asks for one curve without waiting, then follows it live until it settles. */
async function follow(s: Series, input: Request, render: () => void): Promise<void> {
  const apply = (state: PathStateFragment) => {
    s.id = state.id;
    s.status = state.status;
    s.done = state.progress.done;
    s.total = state.progress.total;
    s.etaSeconds = state.progress.etaSeconds;
    s.failure = state.failure === null ? null : `${state.failure.code}: ${state.failure.message}`;
    for (const p of state.points) s.points.set(p.alpha, { loss: p.loss, accuracy: p.accuracy });
  };
  try {
    const { interpolationPath } = await request(RequestPathDocument, {
      input: { ...input, blocks: s.blocks, wait: false },
    });
    apply(interpolationPath);
    render();
    if (interpolationPath.status !== 'COMPLETE' && interpolationPath.status !== 'FAILED') {
      await new Promise<void>((resolve) => {
        s.stop = subscribe(
          PathUpdatedDocument,
          { id: interpolationPath.id, alphas: input.alphas },
          {
            next: ({ pathUpdated }) => {
              if (pathUpdated.point !== null)
                s.points.set(pathUpdated.point.alpha, {
                  loss: pathUpdated.point.loss,
                  accuracy: pathUpdated.point.accuracy,
                });
              s.status = pathUpdated.status;
              s.done = pathUpdated.progress.done;
              s.total = pathUpdated.progress.total;
              s.etaSeconds = pathUpdated.progress.etaSeconds;
              if (pathUpdated.failure !== null)
                s.failure = `${pathUpdated.failure.code}: ${pathUpdated.failure.message}`;
              render();
            },
            error: (error) => {
              s.status = 'ERROR';
              s.failure = error.message;
              render();
              resolve();
            },
            complete: resolve,
          },
        );
      });
    }
    if (s.id !== null && s.status !== 'ERROR') {
      const { path } = await request(PathWithBarriersDocument, { id: s.id, alphas: input.alphas });
      apply(path);
      s.barrier = path.barrier;
      s.errorBarrier = path.errorBarrier;
    }
  } catch (error) {
    s.status = 'ERROR';
    s.failure = (error as Error).message;
  }
  render();
}

function curvePlot(series: Series[], metric: 'loss' | 'error', width: number): Element {
  const rows = series.flatMap((s) =>
    [...s.points]
      .sort((a, b) => a[0] - b[0])
      .map(([alpha, p]) => ({
        series: s.name,
        alpha,
        value: metric === 'loss' ? p.loss : 1 - p.accuracy,
        whole: s.name === WHOLE,
        curve: s.curve !== null,
      })),
  );
  const peaks = series.flatMap((s) => {
    const barrier = metric === 'loss' ? s.barrier : s.errorBarrier;
    const peak = barrier?.shape === 'BARRIER' ? barrier.barrierAlpha : null;
    const value = peak === null || peak === undefined ? null : s.points.get(peak);
    return value === null || value === undefined
      ? []
      : [{ series: s.name, alpha: peak, value: metric === 'loss' ? value.loss : 1 - value.accuracy }];
  });
  if (rows.length === 0)
    return h(
      'p',
      { class: 'muted' },
      series.length === 0 ? 'Choose two checkpoints and a dataset.' : 'Waiting for the first points…',
    );
  return Plot.plot({
    width,
    height: 420,
    marginLeft: 60,
    grid: true,
    x: { label: series.some((s) => s.curve !== null) ? 'α (t along the curve)' : 'α' },
    y: { label: metric === 'loss' ? 'loss' : 'error (1 − accuracy)', zero: metric === 'error' },
    color: { legend: true, domain: series.map((s) => s.name) },
    marks: [
      Plot.line(
        rows.filter((r) => r.whole && r.value !== null),
        { x: 'alpha', y: 'value', stroke: 'series', strokeWidth: 2.5, strokeDasharray: '7,4' },
      ),
      Plot.line(
        rows.filter((r) => !r.whole && !r.curve && r.value !== null),
        { x: 'alpha', y: 'value', stroke: 'series', strokeWidth: 1.6 },
      ),
      Plot.line(
        rows.filter((r) => r.curve && r.value !== null),
        { x: 'alpha', y: 'value', stroke: 'series', strokeWidth: 3 },
      ),
      Plot.dot(
        rows.filter((r) => r.value !== null),
        { x: 'alpha', y: 'value', fill: 'series', r: 2.2, tip: true },
      ),
      Plot.dot(peaks, { x: 'alpha', y: 'value', stroke: 'series', symbol: 'triangle', r: 7, strokeWidth: 2 }),
    ],
  });
}

function seriesRow(s: Series, metric: 'loss' | 'error'): HTMLTableRowElement {
  const barrier = metric === 'loss' ? s.barrier : s.errorBarrier;
  return h(
    'tr',
    { 'data-series': s.name, 'data-status': s.status },
    h('td', {}, s.name),
    h('td', {}, s.status, s.failure === null ? null : errorLine(s.failure)),
    h('td', { class: 'number' }, `${s.done}/${s.total}`),
    h('td', {}, barrier?.shape ?? '—'),
    h('td', { class: 'number' }, fmt(barrier?.rise)),
    h('td', { class: 'number' }, fmt(barrier?.riseAboveStart)),
    h('td', { class: 'number' }, fmt(barrier?.mliDelta)),
    h('td', { class: 'number' }, fmt(barrier?.barrierAlpha, 3)),
  );
}

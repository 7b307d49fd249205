import { request } from '../api.js';
import { errorLine, h } from '../dom.js';
import { exportButtons } from '../export.js';
import { RegistryDocument, type BnStatsMode, type RegistryQuery } from '../generated/graphql.js';
import { planePlot, type PlaneModel, type PlaneOptions } from '../plane-plot.js';
import { followPlane, requestPlane, type PlaneRequest, type PlaneSnapshot } from '../plane-api.js';

type Registry = RegistryQuery;
type RunEntry = Registry['runs']['edges'][number]['node'];

/** Everything that shapes a plane and its plot, as kept in `#/plane?…`. */
export interface PlaneParams {
  mode?: 'states' | 'directions';
  a?: string;
  b?: string;
  c?: string;
  sx?: string;
  sy?: string;
  dataset?: string;
  x?: string;
  y?: string;
  n?: string;
  limit?: string;
  bn?: string;
  orth?: string;
  metric?: string;
  scale?: string;
  contours?: string;
}

export function planeLink(params: PlaneParams): string {
  const query = new URLSearchParams(Object.entries(params).filter((e): e is [string, string] => e[1] !== undefined));
  return `#/plane?${query}`;
}

/** The ranges the server takes by default for each kind of plane. */
const DEFAULT_RANGE = { states: '-0.5:1.5', directions: '-1:1' } as const;

export function planeView(root: HTMLElement, params: URLSearchParams): void {
  const status = h('div', { class: 'muted', 'aria-live': 'polite' }, 'Loading the registry…');
  root.replaceChildren(h('h2', {}, 'Loss plane'), status);
  request(RegistryDocument, {})
    .then((registry) => build(root, registry, params))
    .catch((error: Error) => status.replaceChildren(errorLine(error.message)));
}

function readSeed(text: string): number {
  const seed = Number(text);
  if (text.trim() === '' || !Number.isSafeInteger(seed) || seed < 0)
    throw new Error(`seeds: expected whole numbers ≥ 0, got "${text}"`);
  return seed;
}

/** "low:high" → [low, high], both finite and low < high. */
function readRange(text: string, axis: string): [number, number] {
  const parts = text.split(':').map((p) => Number(p.trim()));
  if (parts.length !== 2 || parts.some((p) => !Number.isFinite(p)) || !(parts[1]! > parts[0]!))
    throw new Error(`${axis} range: expected "low:high" with low < high (e.g. -0.5:1.5), got "${text}"`);
  return [parts[0]!, parts[1]!];
}

/** The run's INITIAL, FINAL and a checkpoint between them (for the plane through three of its states). */
function runDefaults(run: RunEntry, registry: Registry) {
  const byStep = [...run.checkpoints].sort((p, q) => p.step - q.step);
  const initial = run.checkpoints.find((c) => c.role === 'INITIAL') ?? byStep[0];
  const final = run.checkpoints.find((c) => c.role === 'FINAL') ?? byStep.at(-1);
  const middle = byStep.find((c) => c.id !== initial?.id && c.id !== final?.id);
  const dataset =
    registry.datasets.find((d) => d.name === run.datasetName && d.split === 'TEST') ??
    registry.datasets.find((d) => d.name === run.datasetName);
  return { a: initial?.id, b: final?.id, c: middle?.id, dataset: dataset?.id };
}

function build(root: HTMLElement, registry: Registry, params: URLSearchParams): void {
  const runs = registry.runs.edges.map((e) => e.node);
  const checkpoints = runs.flatMap((run) => run.checkpoints.map((c) => ({ ...c, run })));
  const run = runs.find((r) => r.checkpoints.length >= 3 && r.datasetName !== null) ?? runs[0];
  const defaults = params.has('a') || run === undefined ? undefined : runDefaults(run, registry);
  const checkpointSelect = (id: string, label: string, selected: string | undefined) =>
    h(
      'select',
      { id, 'aria-label': label },
      ...checkpoints.map((c) =>
        h(
          'option',
          { value: c.id, selected: c.id === selected },
          `${c.run.name} · ${c.role.toLowerCase()} · step ${c.step}`,
        ),
      ),
    );
  const mode = h(
    'select',
    { id: 'plane-mode', 'aria-label': 'Plane' },
    h('option', { value: 'states' }, 'through three checkpoints'),
    h('option', { value: 'directions' }, 'around a checkpoint, along two random directions'),
  );
  mode.value = params.get('mode') === 'directions' ? 'directions' : 'states';
  const aSelect = checkpointSelect('plane-a', 'A (origin or centre)', params.get('a') ?? defaults?.a);
  const bSelect = checkpointSelect('plane-b', 'B (x axis: B − A)', params.get('b') ?? defaults?.b);
  const cSelect = checkpointSelect('plane-c', 'C (y axis: C − A)', params.get('c') ?? defaults?.c);
  const seedX = h('input', { id: 'plane-seed-x', type: 'number', min: 0, value: params.get('sx') ?? '1', size: 5 });
  const seedY = h('input', { id: 'plane-seed-y', type: 'number', min: 0, value: params.get('sy') ?? '2', size: 5 });
  const orthogonal = h('input', { id: 'plane-orth', type: 'checkbox', checked: params.get('orth') === 'on' });
  const datasetSelect = h(
    'select',
    { id: 'plane-dataset', 'aria-label': 'Dataset' },
    h('option', { value: '' }, 'choose a dataset'),
    ...registry.datasets.map((d) =>
      h('option', { value: d.id }, `${d.name} · ${d.split.toLowerCase()} (${d.exampleCount})`),
    ),
  );
  datasetSelect.value = params.get('dataset') ?? defaults?.dataset ?? '';
  const xRange = h('input', { id: 'plane-x', size: 10, 'aria-label': 'x range' });
  const yRange = h('input', { id: 'plane-y', size: 10, 'aria-label': 'y range' });
  xRange.value = params.get('x') ?? DEFAULT_RANGE[mode.value as 'states' | 'directions'];
  yRange.value = params.get('y') ?? DEFAULT_RANGE[mode.value as 'states' | 'directions'];
  const resolution = h('input', {
    id: 'plane-n',
    type: 'number',
    min: 2,
    value: params.get('n') ?? '11',
    size: 4,
    'aria-label': 'Points per axis',
  });
  const limitBox = h('input', {
    id: 'plane-limit',
    type: 'number',
    min: 1,
    value: params.get('limit') ?? '',
    placeholder: 'all',
    size: 6,
    'aria-label': 'Examples',
  });
  const bnStats = h(
    'select',
    { id: 'plane-bn', 'aria-label': 'BatchNorm running statistics' },
    h('option', { value: 'INTERPOLATE' }, 'BN stats combined like the weights'),
    h('option', { value: 'RECOMPUTE' }, 'BN stats recomputed at each point (train split; costly)'),
  );
  bnStats.value = params.get('bn') ?? 'INTERPOLATE';
  const options: PlaneOptions = {
    metric: params.get('metric') === 'accuracy' ? 'accuracy' : 'loss',
    scale: params.get('scale') === 'log' ? 'log' : 'linear',
    contours: params.get('contours') !== 'off',
  };
  const logScale = h('input', { id: 'plane-log', type: 'checkbox', checked: options.scale === 'log' });
  const showContours = h('input', { id: 'plane-contours', type: 'checkbox', checked: options.contours });
  const message = h('div', { 'aria-live': 'polite' });
  const progress = h('progress', { id: 'plane-progress', max: 1, value: 0, hidden: true });
  const progressText = h('span', { id: 'plane-progress-text', class: 'muted' });
  const costText = h('p', { id: 'plane-cost', class: 'muted' });
  const plotBox = h('div', { id: 'plane-plot', class: 'plot', 'data-done': 0, 'data-pending': 0 });
  const tabs = h('div', { class: 'tabs', role: 'tablist' });
  let plane: PlaneSnapshot | null = null;
  let stop: (() => void) | undefined;
  let frame = 0;

  const stateParams = (): PlaneParams => ({
    ...(mode.value === 'directions' ? { mode: 'directions', a: aSelect.value, sx: seedX.value, sy: seedY.value } : {}),
    ...(mode.value === 'states'
      ? { a: aSelect.value, b: bSelect.value, c: cSelect.value, ...(orthogonal.checked ? { orth: 'on' } : {}) }
      : {}),
    dataset: datasetSelect.value,
    x: xRange.value,
    y: yRange.value,
    n: resolution.value,
    ...(limitBox.value === '' ? {} : { limit: limitBox.value }),
    ...(bnStats.value === 'INTERPOLATE' ? {} : { bn: bnStats.value }),
    ...(options.metric === 'loss' ? {} : { metric: options.metric }),
    ...(options.scale === 'linear' ? {} : { scale: options.scale }),
    ...(options.contours ? {} : { contours: 'off' }),
  });
  /** The plot's switches change the URL in place (no new history entry, no re-render of the view). */
  const keepSwitches = () => history.replaceState(null, '', planeLink(stateParams()));

  const render = () => {
    cancelAnimationFrame(frame);
    frame = requestAnimationFrame(draw);
  };
  const draw = () => {
    const settled = plane !== null && ['COMPLETE', 'FAILED', 'PARTIAL', 'ERROR'].includes(plane.status);
    const done = plane?.done ?? 0;
    const total = plane?.total ?? 0;
    progress.hidden = plane === null || settled;
    progress.max = Math.max(total, 1);
    progress.value = done;
    progressText.textContent =
      plane === null
        ? ''
        : `${done}/${total} points · ${plane.status.toLowerCase()}${
            !settled && plane.etaSeconds !== null && plane.etaSeconds > 0
              ? ` · ~${Math.ceil(plane.etaSeconds)} s left`
              : ''
          }`;
    const model = plane === null ? null : toModel(plane);
    plotBox.replaceChildren(
      model === null
        ? h('p', { class: 'muted' }, 'Choose the states, the grid and a dataset.')
        : planePlot(model, options),
    );
    const known = model === null ? 0 : model.loss.filter((v) => v !== null).length;
    plotBox.dataset.done = String(known);
    plotBox.dataset.pending = String(model === null ? 0 : model.loss.length - known);
    plotBox.dataset.settled = String(settled);
    if (plane?.failure != null) message.replaceChildren(errorLine(plane.failure));
  };

  for (const [name, label] of [
    ['loss', 'Loss'],
    ['accuracy', 'Accuracy'],
  ] as const) {
    tabs.append(
      h(
        'button',
        {
          type: 'button',
          role: 'tab',
          id: `plane-tab-${name}`,
          'aria-selected': String(options.metric === name),
          onclick: (event: Event) => {
            options.metric = name;
            for (const tab of tabs.children) tab.setAttribute('aria-selected', String(tab === event.currentTarget));
            keepSwitches();
            render();
          },
        },
        label,
      ),
    );
  }
  logScale.addEventListener('change', () => {
    options.scale = logScale.checked ? 'log' : 'linear';
    keepSwitches();
    render();
  });
  showContours.addEventListener('change', () => {
    options.contours = showContours.checked;
    keepSwitches();
    render();
  });
  const showMode = () => {
    const states = mode.value === 'states';
    for (const element of [bLabel, cLabel, orthLabel]) element.hidden = !states;
    seedLabel.hidden = states;
    aLabel.firstChild!.textContent = states ? 'A ' : 'centre ';
  };
  mode.addEventListener('change', () => {
    // Li et al. draw their planes around a trained solution: the run's FINAL checkpoint by default.
    if (mode.value === 'directions' && defaults?.b !== undefined && aSelect.value === defaults.a)
      aSelect.value = defaults.b;
    xRange.value = DEFAULT_RANGE[mode.value as 'states' | 'directions'];
    yRange.value = xRange.value;
    showMode();
  });

  const show = async () => {
    stop?.();
    message.replaceChildren();
    costText.textContent = '';
    let input: PlaneRequest;
    try {
      if (datasetSelect.value === '') throw new Error('Choose the dataset to evaluate on.');
      const n = Number(resolution.value);
      if (!Number.isInteger(n) || n < 2)
        throw new Error(`points per axis: expected a whole number ≥ 2, got "${resolution.value}"`);
      input = {
        ...(mode.value === 'states'
          ? { kind: 'states', a: aSelect.value, b: bSelect.value, c: cSelect.value, orthogonal: orthogonal.checked }
          : { kind: 'directions', centre: aSelect.value, seeds: [readSeed(seedX.value), readSeed(seedY.value)] }),
        x: readRange(xRange.value, 'x'),
        y: readRange(yRange.value, 'y'),
        resolution: n,
        dataset: datasetSelect.value,
        limit: limitBox.value === '' ? null : Number(limitBox.value),
        bnStats: bnStats.value as BnStatsMode,
      };
    } catch (error) {
      message.replaceChildren(errorLine((error as Error).message));
      return;
    }
    location.hash = planeLink(stateParams());
    plane = null;
    render();
    try {
      const asked = await requestPlane(input);
      plane = asked.snapshot;
      costText.textContent = plane.cost;
      render();
      if (!['COMPLETE', 'FAILED'].includes(plane.status)) {
        await new Promise<void>((resolve) => {
          stop = followPlane(asked.snapshot, asked.input, {
            update: (next) => {
              plane = next;
              render();
            },
            done: resolve,
          });
        });
      }
    } catch (error) {
      message.replaceChildren(errorLine((error as Error).message));
      if (plane !== null) plane = { ...plane, status: 'ERROR' };
    }
    render();
  };

  const aLabel = h('label', {}, 'A ', aSelect);
  const bLabel = h('label', {}, 'B ', bSelect);
  const cLabel = h('label', {}, 'C ', cSelect);
  const orthLabel = h(
    'label',
    { title: 'Gram–Schmidt: the y axis made orthogonal to B − A' },
    orthogonal,
    ' orthogonal',
  );
  const seedLabel = h(
    'label',
    { title: 'Seeds of the two filter-normalised random directions (createDirection: needs an API key)' },
    'seeds ',
    seedX,
    ' ',
    seedY,
  );
  const form = h(
    'form',
    { class: 'toolbar', onsubmit: (event: Event) => (event.preventDefault(), void show()) },
    mode,
    aLabel,
    bLabel,
    cLabel,
    orthLabel,
    seedLabel,
    h('label', {}, 'on ', datasetSelect),
    h('label', {}, 'x ', xRange),
    h('label', {}, 'y ', yRange),
    h('label', {}, 'points per axis ', resolution),
    h('label', {}, 'examples ', limitBox),
    bnStats,
    h('button', { type: 'submit', id: 'plane-show' }, 'Show'),
  );
  showMode();
  root.replaceChildren(
    h('h2', {}, 'Loss plane'),
    form,
    message,
    costText,
    h(
      'div',
      { class: 'toolbar' },
      tabs,
      h('label', {}, logScale, ' log scale (loss)'),
      h('label', {}, showContours, ' contours'),
      progress,
      progressText,
    ),
    plotBox,
    h(
      'div',
      { class: 'toolbar' },
      exportButtons(
        () => plotBox.querySelector<SVGSVGElement>('svg[viewBox]'),
        () => ({
          columns: ['x', 'y', 'loss', 'accuracy'],
          rows: plane === null ? [] : csvRows(plane),
        }),
        () => `linpath-plane-${options.metric}`,
      ),
    ),
    h(
      'p',
      { class: 'muted' },
      'Through three checkpoints: θ(x, y) = A + x·(B − A) + y·(C − A), so A is at (0, 0), B at (1, 0) and the straight line A → B (dashed) is y = 0; with “orthogonal” the y axis is C − A made orthogonal to B − A (Garipov et al. 2018). Around a checkpoint: θ(x, y) = centre + x·d₁ + y·d₂ along two random directions drawn from the seed, filter-normalised (Li et al. 2018). Hatched cells are still pending; contour lines are drawn at the colour scale’s ticks.',
    ),
  );
  render();
  if (
    params.has('a') &&
    datasetSelect.value !== '' &&
    (mode.value === 'directions' || (bSelect.value !== '' && cSelect.value !== ''))
  )
    void show();
}

/** The plane's points, row by row, with pending ones as null (and a non-finite loss as NaN). */
function toModel(plane: PlaneSnapshot): PlaneModel {
  const nx = plane.xs.length;
  const loss: Array<number | null> = new Array(nx * plane.ys.length).fill(null);
  const accuracy: Array<number | null> = new Array(nx * plane.ys.length).fill(null);
  for (const p of plane.points.values()) {
    const k = p.j * nx + p.i;
    loss[k] = p.loss ?? Number.NaN;
    accuracy[k] = p.accuracy;
  }
  return {
    xs: plane.xs,
    ys: plane.ys,
    loss,
    accuracy,
    markers: plane.markers,
    line: plane.line,
    xLabel: plane.xLabel,
    yLabel: plane.yLabel,
  };
}

function csvRows(plane: PlaneSnapshot): unknown[][] {
  return [...plane.points.values()]
    .sort((p, q) => p.j - q.j || p.i - q.i)
    .map((p) => [plane.xs[p.i], plane.ys[p.j], p.loss, p.accuracy]);
}

import { colourScale, contourLevels, niceTicks, viridis, type ScaleKind } from '../../src/domain/colour-scale.js';
import { contourLines, type Point } from '../../src/domain/contours.js';
import { fmt } from './dom.js';

/** A plane as the plot draws it: values at (xs[i], ys[j]) row by row, null while a point is pending. */
export interface PlaneModel {
  xs: readonly number[];
  ys: readonly number[];
  loss: ReadonlyArray<number | null>;
  accuracy: ReadonlyArray<number | null>;
  /** The states or the centre, at their plane coordinates. */
  markers: ReadonlyArray<{ label: string; x: number; y: number }>;
  /** The straight line A → B, when the plane contains it. */
  line: { from: Point; to: Point } | null;
  xLabel: string;
  yLabel: string;
}

export interface PlaneOptions {
  metric: 'loss' | 'accuracy';
  /** A log colour scale (loss only; accuracy is always linear). */
  scale: ScaleKind;
  contours: boolean;
}

const SVG = 'http://www.w3.org/2000/svg';
const WIDTH = 780;
const HEIGHT = 560;
const MARGIN = { top: 16, right: 150, bottom: 46, left: 60 };
const LINE_COLOUR = '#e4572e';

function s<K extends keyof SVGElementTagNameMap>(
  tag: K,
  attributes: Record<string, string | number>,
  ...children: Array<Node | string>
): SVGElementTagNameMap[K] {
  const element = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, String(value));
  element.append(...children);
  return element;
}

/** The edges of the cells around each sample: halfway to the neighbours, half a spacing beyond the ends. */
function cellEdges(axis: readonly number[]): number[] {
  if (axis.length === 1) return [axis[0]! - 0.5, axis[0]! + 0.5];
  const mid = axis.slice(1).map((v, k) => (v + axis[k]!) / 2);
  return [2 * axis[0]! - mid[0]!, ...mid, 2 * axis.at(-1)! - mid.at(-1)!];
}

/**
 * The heat map of one metric over the plane, as a standalone SVG (styles inline, so its export renders
 * anywhere): a cell per grid point in viridis, hatched grey while pending; contour lines at the colour
 * scale's ticks (marching squares over the known cells); the markers; the line A → B dashed; axes; a legend.
 */
export function planePlot(model: PlaneModel, options: PlaneOptions): SVGSVGElement {
  const values = options.metric === 'loss' ? model.loss : model.accuracy;
  const kind: ScaleKind = options.metric === 'loss' ? options.scale : 'linear';
  const scale = colourScale(values, kind);
  const xEdges = cellEdges(model.xs);
  const yEdges = cellEdges(model.ys);
  const [x0, x1] = [xEdges[0]!, xEdges.at(-1)!];
  const [y0, y1] = [yEdges[0]!, yEdges.at(-1)!];
  const plotWidth = WIDTH - MARGIN.left - MARGIN.right;
  const plotHeight = HEIGHT - MARGIN.top - MARGIN.bottom;
  const sx = (x: number) => MARGIN.left + ((x - x0) / (x1 - x0)) * plotWidth;
  const sy = (y: number) => MARGIN.top + plotHeight - ((y - y0) / (y1 - y0)) * plotHeight;
  const nx = model.xs.length;

  const svg = s('svg', {
    xmlns: SVG,
    width: WIDTH,
    height: HEIGHT,
    viewBox: `0 0 ${WIDTH} ${HEIGHT}`,
    'font-family': 'system-ui, sans-serif',
    'font-size': 11,
    role: 'img',
    'aria-label': `${options.metric} over the plane`,
  });
  svg.append(
    s(
      'defs',
      {},
      s(
        'pattern',
        { id: 'plane-pending', width: 6, height: 6, patternUnits: 'userSpaceOnUse', patternTransform: 'rotate(45)' },
        s('rect', { width: 6, height: 6, fill: '#ececec' }),
        s('line', { x1: 0, y1: 0, x2: 0, y2: 6, stroke: '#c4c4c4', 'stroke-width': 2 }),
      ),
      s(
        'linearGradient',
        { id: 'plane-ramp', x1: 0, y1: 1, x2: 0, y2: 0 },
        ...Array.from({ length: 11 }, (_, k) => s('stop', { offset: k / 10, 'stop-color': viridis(k / 10) })),
      ),
    ),
  );

  const cells = s('g', { class: 'cells', 'shape-rendering': 'crispEdges' });
  for (let j = 0; j < model.ys.length; j++) {
    for (let i = 0; i < nx; i++) {
      const value = values[j * nx + i] ?? null;
      const colour = scale.colour(value);
      const left = sx(xEdges[i]!);
      const top = sy(yEdges[j + 1]!);
      const cell = s('rect', {
        x: left.toFixed(2),
        y: top.toFixed(2),
        width: (sx(xEdges[i + 1]!) - left + 0.5).toFixed(2),
        height: (sy(yEdges[j]!) - top + 0.5).toFixed(2),
        fill: colour ?? (value === null ? 'url(#plane-pending)' : '#ffffff'),
        'data-state': value === null ? 'pending' : colour === null ? 'failed' : 'done',
      });
      cell.append(
        s(
          'title',
          {},
          `x ${fmt(model.xs[i])}, y ${fmt(model.ys[j])}: ${value === null ? 'pending' : `${options.metric} ${fmt(value)}`}`,
        ),
      );
      cells.append(cell);
    }
  }
  svg.append(cells);

  if (options.contours) {
    const lines = s('g', { class: 'contours', fill: 'none', stroke: '#ffffff', 'stroke-opacity': 0.75 });
    for (const level of contourLevels(scale, 8)) {
      for (const line of contourLines({ xs: model.xs, ys: model.ys, values }, level)) {
        const d = line.points.map((p, k) => `${k === 0 ? 'M' : 'L'}${sx(p.x).toFixed(1)},${sy(p.y).toFixed(1)}`);
        const path = s('path', { d: d.join('') + (line.closed ? 'Z' : ''), 'stroke-width': 1, 'data-level': level });
        path.append(s('title', {}, `${options.metric} = ${fmt(level)}`));
        lines.append(path);
      }
    }
    svg.append(lines);
  }

  if (model.line !== null) {
    svg.append(
      s('line', {
        class: 'line-ab',
        x1: sx(model.line.from.x),
        y1: sy(model.line.from.y),
        x2: sx(model.line.to.x),
        y2: sy(model.line.to.y),
        stroke: LINE_COLOUR,
        'stroke-width': 2,
        'stroke-dasharray': '6,4',
      }),
    );
  }
  const markers = s('g', { class: 'markers' });
  for (const marker of model.markers) {
    markers.append(
      s('circle', {
        cx: sx(marker.x),
        cy: sy(marker.y),
        r: 5,
        fill: '#ffffff',
        stroke: '#1d1d1f',
        'stroke-width': 2,
        'data-marker': marker.label,
      }),
      s(
        'text',
        {
          x: sx(marker.x) + 8,
          y: sy(marker.y) - 7,
          'font-size': 13,
          'font-weight': 600,
          fill: '#ffffff',
          stroke: '#1d1d1f',
          'stroke-width': 3,
          'paint-order': 'stroke',
        },
        marker.label,
      ),
    );
  }
  svg.append(markers);
  svg.append(axes(model, sx, sy, [x0, x1], [y0, y1], plotHeight));
  svg.append(legend(scale, options, kind));
  return svg;
}

function axes(
  model: PlaneModel,
  sx: (x: number) => number,
  sy: (y: number) => number,
  [x0, x1]: [number, number],
  [y0, y1]: [number, number],
  plotHeight: number,
): SVGGElement {
  const group = s('g', { class: 'axes', fill: '#1d1d1f' });
  const bottom = MARGIN.top + plotHeight;
  group.append(
    s('rect', {
      x: sx(x0),
      y: sy(y1),
      width: sx(x1) - sx(x0),
      height: sy(y0) - sy(y1),
      fill: 'none',
      stroke: '#888',
    }),
  );
  for (const t of niceTicks(x0, x1, 6)) {
    group.append(
      s('line', { x1: sx(t), x2: sx(t), y1: bottom, y2: bottom + 5, stroke: '#888' }),
      s('text', { x: sx(t), y: bottom + 17, 'text-anchor': 'middle' }, String(t)),
    );
  }
  for (const t of niceTicks(y0, y1, 6)) {
    group.append(
      s('line', { x1: MARGIN.left - 5, x2: MARGIN.left, y1: sy(t), y2: sy(t), stroke: '#888' }),
      s('text', { x: MARGIN.left - 8, y: sy(t) + 4, 'text-anchor': 'end' }, String(t)),
    );
  }
  const middleX = (sx(x0) + sx(x1)) / 2;
  const middleY = (sy(y0) + sy(y1)) / 2;
  group.append(
    s('text', { x: middleX, y: HEIGHT - 8, 'text-anchor': 'middle' }, model.xLabel),
    s('text', { x: 14, y: middleY, 'text-anchor': 'middle', transform: `rotate(-90 14 ${middleY})` }, model.yLabel),
  );
  return group;
}

/** The colour bar with the scale's ticks, the contour levels marked on it, and the pending swatch. */
function legend(scale: ReturnType<typeof colourScale>, options: PlaneOptions, kind: ScaleKind): SVGGElement {
  const left = WIDTH - MARGIN.right + 24;
  const top = MARGIN.top + 22;
  const height = 300;
  const width = 16;
  const group = s('g', { class: 'legend', 'data-scale': kind });
  group.append(
    s(
      'text',
      { x: left, y: MARGIN.top + 8, 'font-weight': 600 },
      `${options.metric}${kind === 'log' ? ' (log scale)' : ''}`,
    ),
    s('rect', { x: left, y: top, width, height, fill: 'url(#plane-ramp)', stroke: '#888' }),
  );
  const at = (v: number) => top + height - scale.position(v) * height;
  const [low, high] = scale.domain;
  // The ends of the domain are labelled too, unless a tick is too close to read both.
  const inner = scale.ticks(6).filter((v) => v > low && v < high);
  const clear = (v: number) => inner.every((t) => Math.abs(at(t) - at(v)) >= 14);
  const ticks = low === high ? [low] : [...(clear(low) ? [low] : []), ...inner, ...(clear(high) ? [high] : [])];
  for (const t of ticks) {
    group.append(
      s('line', { x1: left + width, x2: left + width + 4, y1: at(t), y2: at(t), stroke: '#888' }),
      s('text', { x: left + width + 7, y: at(t) + 4 }, fmt(t)),
    );
  }
  if (options.contours)
    for (const level of contourLevels(scale, 8))
      group.append(s('line', { x1: left, x2: left + width, y1: at(level), y2: at(level), stroke: '#ffffff' }));
  group.append(
    s('rect', { x: left, y: top + height + 18, width, height: 12, fill: 'url(#plane-pending)', stroke: '#888' }),
    s('text', { x: left + width + 7, y: top + height + 28 }, 'pending'),
  );
  return group;
}

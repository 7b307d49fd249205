import { niceTicks as ticks } from './colour-scale.js';

/**
 * A small line plot as standalone SVG text, for reports that must render without a browser or a network:
 * one polyline per series, axes with a few ticks. Pure string building; values are escaped.
 */
export interface Series {
  label: string;
  points: ReadonlyArray<{ x: number; y: number }>;
  /** Stroke colour; default the next of a fixed palette. */
  color?: string;
  /** Stroke dash pattern, e.g. "4,3". */
  dash?: string;
}

const COLORS = [
  '#4269d0',
  '#efb118',
  '#ff725c',
  '#6cc5b0',
  '#3ca951',
  '#ff8ab7',
  '#a463f2',
  '#97bbf5',
  '#9c6b4e',
  '#9498a0',
];

const escape = (text: string): string =>
  text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

export function svgCurves(
  series: readonly Series[],
  options: { title: string; xLabel: string; yLabel: string; width?: number; height?: number },
): string {
  const width = options.width ?? 420;
  const height = options.height ?? 260;
  const margin = { top: 28, right: 12, bottom: 36, left: 52 };
  const all = series.flatMap((s) => s.points).filter((p) => Number.isFinite(p.x) && Number.isFinite(p.y));
  if (all.length === 0)
    return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="40"><text x="4" y="24">${escape(options.title)}: no points</text></svg>`;
  const [xMin, xMax] = [Math.min(...all.map((p) => p.x)), Math.max(...all.map((p) => p.x))];
  const [yMin, yMax] = [Math.min(...all.map((p) => p.y)), Math.max(...all.map((p) => p.y))];
  const yPad = (yMax - yMin) * 0.05 || Math.abs(yMax) * 0.05 || 1;
  const sx = (x: number) => margin.left + ((x - xMin) / (xMax - xMin || 1)) * (width - margin.left - margin.right);
  const sy = (y: number) =>
    height - margin.bottom - ((y - (yMin - yPad)) / (yMax - yMin + 2 * yPad)) * (height - margin.top - margin.bottom);
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, sans-serif" font-size="10">`,
    `<text x="${margin.left}" y="14" font-size="12" font-weight="600">${escape(options.title)}</text>`,
    `<line x1="${margin.left}" y1="${height - margin.bottom}" x2="${width - margin.right}" y2="${height - margin.bottom}" stroke="#888"/>`,
    `<line x1="${margin.left}" y1="${margin.top}" x2="${margin.left}" y2="${height - margin.bottom}" stroke="#888"/>`,
  ];
  for (const t of ticks(xMin, xMax)) {
    parts.push(`<text x="${sx(t).toFixed(1)}" y="${height - margin.bottom + 14}" text-anchor="middle">${t}</text>`);
  }
  for (const t of ticks(yMin - yPad, yMax + yPad, 4)) {
    parts.push(`<text x="${margin.left - 6}" y="${(sy(t) + 3).toFixed(1)}" text-anchor="end">${t}</text>`);
  }
  parts.push(
    `<text x="${(width + margin.left) / 2}" y="${height - 6}" text-anchor="middle">${escape(options.xLabel)}</text>`,
  );
  parts.push(
    `<text x="12" y="${(height - margin.bottom + margin.top) / 2}" transform="rotate(-90 12 ${(height - margin.bottom + margin.top) / 2})" text-anchor="middle">${escape(options.yLabel)}</text>`,
  );
  series.forEach((s, i) => {
    const points = s.points
      .filter((p) => Number.isFinite(p.x) && Number.isFinite(p.y))
      .map((p) => `${sx(p.x).toFixed(1)},${sy(p.y).toFixed(1)}`);
    const dash = s.dash === undefined ? '' : ` stroke-dasharray="${escape(s.dash)}"`;
    parts.push(
      `<polyline fill="none" stroke="${escape(s.color ?? COLORS[i % COLORS.length]!)}"${dash} stroke-width="1.5" points="${points.join(' ')}"><title>${escape(s.label)}</title></polyline>`,
    );
  });
  parts.push('</svg>');
  return parts.join('');
}

/**
 * Plots side by side and in rows, as one standalone SVG: each panel is an `svgCurves` plot nested at its
 * place (panels of a row share its height), with an optional caption line under them.
 */
export function svgPanels(rows: ReadonlyArray<readonly string[]>, options: { caption?: string } = {}): string {
  const size = (svg: string) => {
    const match = /^<svg [^>]*width="(\d+)" height="(\d+)"/.exec(svg);
    return { width: Number(match?.[1] ?? 0), height: Number(match?.[2] ?? 0) };
  };
  const parts: string[] = [];
  let y = 0;
  let width = 0;
  for (const row of rows) {
    let x = 0;
    let rowHeight = 0;
    for (const panel of row) {
      const box = size(panel);
      parts.push(panel.replace(/^<svg /, `<svg x="${x}" y="${y}" `));
      x += box.width;
      rowHeight = Math.max(rowHeight, box.height);
    }
    width = Math.max(width, x);
    y += rowHeight;
  }
  if (options.caption !== undefined) {
    parts.push(`<text x="8" y="${y + 16}" font-size="11">${escape(options.caption)}</text>`);
    y += 24;
  }
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${y}" viewBox="0 0 ${width} ${y}" font-family="system-ui, sans-serif" font-size="10">${parts.join('')}</svg>`;
}

import { download, h } from './dom.js';

/** The plot's SVG as a standalone file (Observable Plot styles inline, so it renders anywhere). */
function svgText(svg: SVGSVGElement): string {
  const copy = svg.cloneNode(true) as SVGSVGElement;
  copy.setAttribute('xmlns', 'http://www.w3.org/2000/svg');
  copy.setAttribute('xmlns:xlink', 'http://www.w3.org/1999/xlink');
  return `<?xml version="1.0" encoding="UTF-8"?>\n${new XMLSerializer().serializeToString(copy)}`;
}

export function exportSvg(svg: SVGSVGElement, name: string): void {
  download(new Blob([svgText(svg)], { type: 'image/svg+xml' }), `${name}.svg`);
}

/** PNG at twice the plot's size, on white. */
export async function exportPng(svg: SVGSVGElement, name: string): Promise<void> {
  const { width, height } = svg.getBoundingClientRect();
  const image = new Image();
  const url = URL.createObjectURL(new Blob([svgText(svg)], { type: 'image/svg+xml' }));
  try {
    await new Promise<void>((resolve, reject) => {
      image.onload = () => resolve();
      image.onerror = () => reject(new Error('the plot could not be rendered as an image'));
      image.src = url;
    });
    const scale = 2;
    const canvas = h('canvas', { width: Math.ceil(width * scale), height: Math.ceil(height * scale) });
    const context = canvas.getContext('2d')!;
    context.fillStyle = '#fff';
    context.fillRect(0, 0, canvas.width, canvas.height);
    context.drawImage(image, 0, 0, canvas.width, canvas.height);
    const blob = await new Promise<Blob | null>((resolve) => canvas.toBlob(resolve, 'image/png'));
    if (blob !== null) download(blob, `${name}.png`);
  } finally {
    URL.revokeObjectURL(url);
  }
}

/** RFC 4180 CSV: a header row, then one row per record; fields quoted when they need it. */
export function toCsv(columns: readonly string[], rows: ReadonlyArray<ReadonlyArray<unknown>>): string {
  const cell = (value: unknown): string => {
    const text =
      value === null || value === undefined ? '' : typeof value === 'object' ? JSON.stringify(value) : String(value);
    return /[",\n\r]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
  };
  return [columns, ...rows].map((row) => row.map(cell).join(',')).join('\r\n') + '\r\n';
}

export function exportCsv(columns: readonly string[], rows: ReadonlyArray<ReadonlyArray<unknown>>, name: string): void {
  download(new Blob([toCsv(columns, rows)], { type: 'text/csv' }), `${name}.csv`);
}

/** SVG / PNG / CSV buttons for a plot (Observable Plot: the svg with a viewBox; legend swatches have none). */
export function exportButtons(
  plot: () => SVGSVGElement | null,
  csv: () => { columns: string[]; rows: unknown[][] },
  name: () => string,
): HTMLElement {
  const withPlot = (action: (svg: SVGSVGElement) => unknown) => () => {
    const svg = plot();
    if (svg !== null) void action(svg);
  };
  return h(
    'span',
    { class: 'exports' },
    h('button', { type: 'button', onclick: withPlot((svg) => exportSvg(svg, name())) }, 'SVG'),
    h('button', { type: 'button', onclick: withPlot((svg) => exportPng(svg, name())) }, 'PNG'),
    h(
      'button',
      {
        type: 'button',
        onclick: () => {
          const { columns, rows } = csv();
          exportCsv(columns, rows, name());
        },
      },
      'CSV',
    ),
  );
}

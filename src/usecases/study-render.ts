import { svgCurves, svgPanels, type Series } from '../domain/svg-curves.js';
import type { StudyReport } from './report.usecases.js';
import { ALPHAS, RECIPES, type StudyDataset } from './study-data.js';
import type { SpiralStudyOptions, StudyCurve, StudyRun } from './study.usecases.js';

interface StudyBody {
  options: SpiralStudyOptions;
  runs: StudyRun[];
  reports: Array<{ dataset: StudyDataset; report: StudyReport }>;
  seconds: number;
}

/** The paper's colours in Figure 1A: blue from the run's own initialisation, green from other ones. */
export const OWN_COLOR = '#1f5fbf';
export const OTHER_COLOR = '#2ca02c';

const f = (v: number | null | undefined, digits = 3) =>
  v === null || v === undefined || !Number.isFinite(v) ? '–' : v.toFixed(digits);
const mean = (values: ReadonlyArray<number | null>) => {
  const finite = values.filter((v): v is number => v !== null && Number.isFinite(v));
  return finite.length === 0 ? null : finite.reduce((a, b) => a + b, 0) / finite.length;
};
const max = (values: ReadonlyArray<number | null>) => {
  const finite = values.filter((v): v is number => v !== null && Number.isFinite(v));
  return finite.length === 0 ? null : Math.max(...finite);
};
const shapes = (curves: readonly StudyCurve[]) => {
  const counts = new Map<string, number>();
  for (const c of curves) counts.set(c.metrics.shape ?? 'n/a', (counts.get(c.metrics.shape ?? 'n/a') ?? 0) + 1);
  return [...counts]
    .sort((a, b) => b[1] - a[1])
    .map(([shape, n]) => `${shape} ×${n}`)
    .join(', ');
};
const select = (runs: readonly StudyRun[], own: boolean, split: 'TRAIN' | 'TEST') =>
  runs.flatMap((r) => r.curves.filter((c) => (c.from === 'own') === own && c.split === split));
/** A barrier that rises above the loss at the start: riseAboveStart above the curve's barrier threshold. */
const aboveStart = (c: StudyCurve) => (c.metrics.riseAboveStart ?? 0) > (c.metrics.threshold ?? 0);

export function studyMarkdown(study: StudyBody): string {
  const { options } = study;
  const datasets = [...new Set(study.runs.map((r) => r.dataset))];
  const lines = [
    '# Figure 1A of Vlaar & Frankle (2022), with its protocol',
    '',
    `Appendix A's recipe: an MLP with two hidden layers of 50 ReLU units, Adam (lr 5e-4, no weight decay, no schedule); ` +
      `MNIST with batch 128 and cross entropy, the spiral (10,000 training and 5,000 test points) with batch 500 and binary ` +
      `cross entropy. Stop rule: each run trains until the running train accuracy of an epoch reaches ${options.stopAtTrainAccuracy} ` +
      `(at most ${datasets.map((d) => `${options.maxEpochs[d]} epochs on ${d}`).join(', ')}). Seeds ${datasets.map((d) => `${(options.seedsOf?.[d] ?? options.seeds).join(', ')} on ${d}`).join('; ')}; ` +
      `per run θ_0 → θ_T (own initialisation) and θ′_0 → θ_T from ${options.otherInits} other seeded PyTorch-default ` +
      `initialisations, on the train and the test split, at α = 0, 0.05, …, 1 (${ALPHAS.length} points). Trained with ` +
      `TensorFlow.js (linpath trainRun), evaluated with ONNX Runtime. This invocation took ${Math.round(study.seconds)} s ` +
      '(stored runs and curves are reused).',
    '',
    'Measures (see docs/analytics.md): rise = max L − max(L(0), L(1)), the barrier above both end points; rise above start = ' +
      'max L − L(0); a curve is a BARRIER when some rise L(α_j) − L(α_i), i < j, exceeds max(1e-4, 1% of its range).',
    '',
    '## Runs',
    '',
    '| data | seed | epochs | train accuracy | test accuracy | θ_0 → θ_T (train): shape, rise, rise above start | θ′_0 → θ_T (train): shapes, mean rise, max rise |',
    '|---|---:|---:|---:|---:|---|---|',
  ];
  for (const r of study.runs) {
    const own = r.curves.find((c) => c.from === 'own' && c.split === 'TRAIN');
    const others = r.curves.filter((c) => c.from !== 'own' && c.split === 'TRAIN');
    lines.push(
      `| ${r.dataset} | ${r.seed} | ${r.epochs} | ${f(r.trainAccuracy, 4)} | ${f(r.testAccuracy, 4)} | ` +
        `${own?.metrics.shape ?? '–'}, ${f(own?.metrics.rise)}, ${f(own?.metrics.riseAboveStart)} | ` +
        `${shapes(others)}, ${f(mean(others.map((c) => c.metrics.rise)))}, ${f(max(others.map((c) => c.metrics.rise)))} |`,
    );
  }
  lines.push(
    '',
    '## Figure 1A, in numbers',
    '',
    '| data | split | start | curves | shapes | rise: mean (max) | rise above start: mean (max) | rising above L(0) | L(0) → L(1), mean |',
    '|---|---|---|---:|---|---|---|---:|---|',
  );
  for (const dataset of datasets) {
    const runs = study.runs.filter((r) => r.dataset === dataset);
    for (const split of ['TRAIN', 'TEST'] as const) {
      for (const own of [true, false]) {
        const curves = select(runs, own, split);
        lines.push(
          `| ${dataset} | ${split.toLowerCase()} | ${own ? 'own θ_0 (blue)' : 'other θ′_0 (green)'} | ${curves.length} | ${shapes(curves)} | ` +
            `${f(mean(curves.map((c) => c.metrics.rise)))} (${f(max(curves.map((c) => c.metrics.rise)))}) | ` +
            `${f(mean(curves.map((c) => c.metrics.riseAboveStart)))} (${f(max(curves.map((c) => c.metrics.riseAboveStart)))}) | ` +
            `${curves.filter(aboveStart).length} of ${curves.length} | ${f(mean(curves.map((c) => c.start)))} → ${f(mean(curves.map((c) => c.end)))} |`,
        );
      }
    }
  }
  lines.push('', '## The two claims, as measured', '', ...claims(study), '');
  for (const { report } of study.reports) lines.push(report.markdown.replace(/^# /m, '## '), '');
  return lines.join('\n');
}

/** Fig. 1A's two claims, each checked on the train curves (the paper plots training loss) and said plainly. */
function claims(study: StudyBody): string[] {
  const lines: string[] = [];
  const mnist = study.runs.filter((r) => r.dataset === 'mnist');
  if (mnist.length > 0) {
    const curves = mnist.flatMap((r) => r.curves.filter((c) => c.split === 'TRAIN'));
    const barriers = curves.filter((c) => c.metrics.shape === 'BARRIER');
    lines.push(
      `- **MNIST, "the loss decays monotonically … from initial to trained model … and from any random initialization"**: ` +
        `${curves.length - barriers.length} of ${curves.length} train curves (own and other initialisations) have no barrier; ` +
        `largest rise ${f(max(curves.map((c) => c.metrics.rise)))}. ${barriers.length === 0 ? 'Reproduced.' : `Not reproduced for ${barriers.length} curve(s).`}`,
    );
  }
  const spiral = study.runs.filter((r) => r.dataset === 'spiral');
  if (spiral.length > 0) {
    const own = spiral.map((r) => r.curves.find((c) => c.from === 'own' && c.split === 'TRAIN')!);
    const withBarrier = own.filter((c) => c.metrics.shape === 'BARRIER').length;
    const risingRuns = own.filter(aboveStart).length;
    lines.push(
      `- **Spiral, "barriers do appear along the linear path … in fact rising above the level of loss at initialization"**: ` +
        `${withBarrier} of ${own.length} own-initialisation train curves are BARRIER, ${risingRuns} of ${own.length} rise above L(0) ` +
        `(rise above start ${own.map((c) => f(c.metrics.riseAboveStart)).join(', ')}). ` +
        `${risingRuns === own.length ? 'Reproduced.' : risingRuns === 0 ? 'Not reproduced.' : `Reproduced for ${risingRuns} of ${own.length} runs.`}`,
    );
    const higher = spiral.filter((r) => {
      const mine = r.curves.find((c) => c.from === 'own' && c.split === 'TRAIN')!.metrics.rise ?? 0;
      const others = mean(r.curves.filter((c) => c.from !== 'own' && c.split === 'TRAIN').map((c) => c.metrics.rise));
      return others !== null && others > mine;
    }).length;
    lines.push(
      `- **Spiral, "barriers rise even higher when interpolating to other initializations"**: in ${higher} of ${spiral.length} runs ` +
        `the mean rise from the other initialisations exceeds the rise from the run's own (means ` +
        `${f(mean(spiral.flatMap((r) => r.curves.filter((c) => c.from !== 'own' && c.split === 'TRAIN').map((c) => c.metrics.rise))))} against ` +
        `${f(mean(own.map((c) => c.metrics.rise)))}). ${higher === spiral.length ? 'Reproduced.' : higher === 0 ? 'Not reproduced.' : `Reproduced for ${higher} of ${spiral.length} runs.`}`,
    );
  }
  return lines;
}

/** Figure 1A's layout: loss against α, blue from the own initialisation, green from others; MNIST left, spiral right. */
export function studyFigure(study: StudyBody): string {
  const datasets = (['mnist', 'spiral'] as const).filter((d) => study.runs.some((r) => r.dataset === d));
  const rows = (['TRAIN', 'TEST'] as const).map((split) =>
    datasets.map((dataset) => {
      const series: Series[] = [];
      for (const own of [false, true]) {
        for (const r of study.runs.filter((run) => run.dataset === dataset)) {
          for (const c of r.curves.filter((curve) => (curve.from === 'own') === own && curve.split === split)) {
            series.push({
              label: `${r.run.name}: ${c.from === 'own' ? 'θ_0' : `θ′_0 seed ${c.from}`} → θ_T`,
              color: own ? OWN_COLOR : OTHER_COLOR,
              points: c.losses.map((y, i) => ({ x: ALPHAS[i]!, y })),
            });
          }
        }
      }
      return svgCurves(series, {
        title: `${RECIPES[dataset].title} · ${split.toLowerCase()} loss`,
        xLabel: 'α',
        yLabel: `${split.toLowerCase()} loss`,
        width: 440,
        height: 280,
      });
    }),
  );
  return svgPanels(rows, {
    caption: 'Blue: θ_0 → θ_T from the run’s own initialisation; green: θ′_0 → θ_T from other random initialisations.',
  });
}

export function studyHtml(study: StudyBody, figure: string): string {
  const body = markdownToHtml(studyMarkdown(study));
  const plots = study.reports
    .map(({ report }) => /<div class="plots">[\s\S]*?<\/div>/.exec(report.html)?.[0] ?? '')
    .join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Figure 1A of Vlaar &amp; Frankle (2022)</title>
<style>body{font-family:system-ui,sans-serif;margin:2rem;max-width:1150px}table{border-collapse:collapse;margin:.5rem 0}td,th{border-bottom:1px solid #ddd;padding:.3rem .6rem;text-align:left}.plots{display:flex;flex-wrap:wrap;gap:1rem}</style>
</head><body>
${body.replace('<h2>Runs</h2>', `<h2>Figure 1A</h2>\n${figure}\n<h2>Runs</h2>`)}
<h2>θ_0 → θ_T on the test split, per report</h2>
${plots}
</body></html>
`;
}

/** The Markdown this module writes (headings, paragraphs, bullet lists, pipe tables) as HTML. */
function markdownToHtml(markdown: string): string {
  const e = (text: string) =>
    text
      .replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!)
      .replace(/\*\*(.+?)\*\*/g, '<strong>$1</strong>');
  const out: string[] = [];
  const blocks = markdown.split(/\n{2,}/);
  for (const block of blocks) {
    const lines = block.split('\n').filter((l) => l.trim() !== '');
    if (lines.length === 0) continue;
    const heading = /^(#{1,3}) (.*)$/.exec(lines[0]!);
    if (heading !== null && lines.length === 1) {
      out.push(`<h${heading[1]!.length}>${e(heading[2]!)}</h${heading[1]!.length}>`);
    } else if (lines.every((l) => l.startsWith('|'))) {
      const cells = (l: string) =>
        l
          .slice(1, -1)
          .split(/(?<!\\)\|/)
          .map((c) => e(c.trim().replace(/\\\|/g, '|')));
      const [head, , ...rows] = lines;
      out.push(
        `<table><thead><tr>${cells(head!)
          .map((c) => `<th>${c}</th>`)
          .join('')}</tr></thead><tbody>${rows
          .map(
            (r) =>
              `<tr>${cells(r)
                .map((c) => `<td>${c}</td>`)
                .join('')}</tr>`,
          )
          .join('')}</tbody></table>`,
      );
    } else if (lines.every((l) => l.startsWith('- '))) {
      out.push(`<ul>${lines.map((l) => `<li>${e(l.slice(2))}</li>`).join('')}</ul>`);
    } else {
      out.push(`<p>${e(lines.join(' '))}</p>`);
    }
  }
  return out.join('\n');
}

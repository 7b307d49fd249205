import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { trainedDemoHome } from '../helpers/demo-home.js';
import { buildOnce, killLeftovers, repoRoot, startServer, type RunningServer } from '../helpers/server.js';

/**
 * The dashboard in Debian's Chromium (headless, no network beyond the test server), driven by Playwright,
 * against `linpath start` on the demo data. Screenshots go to test-artifacts/.
 */

const CHROMIUM = process.env.LINPATH_CHROMIUM ?? '/usr/bin/chromium';
const ARTIFACTS = path.join(repoRoot, 'test-artifacts');
/** The flags the machine notes give for a closed network: no background connections at all. */
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

// CI installs Chromium (.ci/run); elsewhere the suite runs without it and says so.
describe.skipIf(!existsSync(CHROMIUM) && !process.env.CI)(`the dashboard in Chromium (${CHROMIUM})`, () => {
  let home: string;
  let server: RunningServer;
  let browser: Browser;
  let page: Page;
  let origin: string;
  const offsite: string[] = [];

  beforeAll(async () => {
    buildOnce();
    // The demo with its tfjs runs trained (once per test run: test/helpers/demo-home.ts), so no training
    // competes with the page for the CPU.
    home = await trainedDemoHome('linpath-browser-');
    // One α per job: a new curve arrives point by point, as a ResNet's would.
    server = await startServer({ LINPATH_HOME: home, PORT: '0', LINPATH_JOB_ALPHAS: '1', LINPATH_POLL_MS: '100' });
    origin = new URL(server.url).origin;
    mkdirSync(ARTIFACTS, { recursive: true });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true });
    page = await browser.newPage({ viewport: { width: 1280, height: 900 }, acceptDownloads: true });
    // Everything the page needs is bundled: any request elsewhere is a defect (and would fail offline).
    await page.route('**/*', (route) => {
      const url = new URL(route.request().url());
      if (url.origin === origin || url.protocol === 'data:' || url.protocol === 'blob:') return route.continue();
      offsite.push(url.href);
      return route.abort();
    });
  }, 660_000);

  afterAll(async () => {
    await browser?.close();
    await server?.stop();
    await killLeftovers();
    if (home !== undefined) rmSync(home, { recursive: true, force: true });
  });

  const blocksOfDemo = async (): Promise<string[]> => {
    const body = await server.graphql(
      '{ runs(filter: { nameContains: "demo-spiral-mlp-adam" }) { edges { node { checkpoints { role blocks } } } } }',
    );
    return body.data.runs.edges[0].node.checkpoints.find((c: { role: string }) => c.role === 'FINAL').blocks;
  };

  /** The width of the widest plot in a box over the box's content width (padding left out). */
  const plotFill = (box: string): Promise<number> =>
    page.locator(box).evaluate((element) => {
      const style = element.ownerDocument.defaultView!.getComputedStyle(element);
      const content = element.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
      const widths = [...element.querySelectorAll('svg')].map((svg) => svg.getBoundingClientRect().width);
      return Math.max(0, ...widths) / content;
    });

  it('lists the demo runs', async () => {
    await page.goto(`${origin}/`);
    await page.locator('#runs-table tr[data-run="demo-spiral-mlp-adam"]').waitFor({ timeout: 30_000 });
    const names = await page
      .locator('#runs-table tbody tr')
      .evaluateAll((rows) => rows.map((r) => r.getAttribute('data-run')));
    expect(names).toContain('demo-spiral-mlp-adam');
    // Hyper-parameters as key=value chips (sorted paths), each on one line: the cell wraps between chips only.
    const chips = page.locator('#runs-table tr[data-run="demo-spiral-mlp-adam"] .chip');
    expect(await chips.allTextContents()).toEqual([
      'batchSize=500',
      'epochs=60',
      'framework=pytorch',
      'learningRate=0.0005',
      'optimizer=adam',
      'weightDecay=0',
    ]);
    const lines = await page
      .locator('#runs-table .chip')
      .evaluateAll((all) =>
        all.map(
          (chip) =>
            chip.getBoundingClientRect().height /
            parseFloat(chip.ownerDocument.defaultView!.getComputedStyle(chip).fontSize),
        ),
      );
    for (const ems of lines) expect(ems).toBeLessThan(2);
    await page.screenshot({ path: path.join(ARTIFACTS, 'dashboard-runs.png'), fullPage: true });
  }, 60_000);

  it('plots the whole-model curve and one curve per block, with their shapes', async () => {
    await page.locator('#runs-table tr[data-run="demo-spiral-mlp-adam"] a').click();
    const plot = page.locator('#path-plot[data-settled="true"]');
    await plot.waitFor({ timeout: 60_000 });
    const blocks = await blocksOfDemo();
    expect(blocks.length).toBeGreaterThan(0);
    expect(await plot.getAttribute('data-series')).toBe(String(1 + blocks.length));
    expect(await plot.getAttribute('data-points')).toBe(String(11 * (1 + blocks.length)));
    // Observable Plot draws one path per series: the dashed whole model and a solid line per block.
    expect(await page.locator('#path-plot svg [stroke-dasharray="7,4"]').count()).toBeGreaterThanOrEqual(1);
    const rows = page.locator('#path-series tbody tr');
    expect(await rows.count()).toBe(1 + blocks.length);
    for (const status of await rows.evaluateAll((r) => r.map((row) => row.getAttribute('data-status'))))
      expect(status).toBe('COMPLETE');
    const shapes = await page.locator('#path-series tbody tr td:nth-child(4)').allTextContents();
    for (const shape of shapes) expect(shape).toMatch(/^(MONOTONIC_DECAY|BARRIER|PLATEAU|[A-Z_]+)$/);
    // The plot is as wide as its box, and drawn again at the new width when the window changes.
    expect(await plotFill('#path-plot')).toBeGreaterThan(0.97);
    await page.setViewportSize({ width: 900, height: 900 });
    await expect.poll(() => plotFill('#path-plot'), { timeout: 5_000 }).toBeGreaterThan(0.97);
    await page.setViewportSize({ width: 1280, height: 900 });
    await expect.poll(() => plotFill('#path-plot'), { timeout: 5_000 }).toBeGreaterThan(0.97);
    await page.locator('#tab-error').click();
    await page.locator('#path-plot svg[viewBox]').waitFor();
    await page.screenshot({ path: path.join(ARTIFACTS, 'dashboard-curves.png'), fullPage: true });
  }, 120_000);

  it('evaluates a new path on demand and shows its points arriving', async () => {
    await page.locator('#tab-loss').click();
    await page.locator('#path-blockwise').uncheck();
    await page.locator('#path-alphas').fill('0.01:0.41:0.02');
    await page.locator('#path-show').click();
    const seen = new Set<number>();
    const deadline = Date.now() + 90_000;
    let settled = false;
    while (!settled && Date.now() < deadline) {
      // One snapshot of the page: read one by one, the last point could land between two reads.
      const state = await page.locator('body').evaluate((body) => {
        const plot = body.querySelector('#path-plot');
        const progress = body.querySelector('#path-progress');
        const box = progress?.getBoundingClientRect();
        return {
          points: Number(plot?.getAttribute('data-points')),
          settled: plot?.getAttribute('data-settled') === 'true',
          progressVisible:
            progress != null &&
            box!.width > 0 &&
            box!.height > 0 &&
            body.ownerDocument.defaultView!.getComputedStyle(progress).visibility !== 'hidden',
        };
      });
      seen.add(state.points);
      if (state.points > 0 && state.points < 21)
        expect(state.progressVisible, `progress hidden at ${state.points} points`).toBe(true);
      settled = state.settled && state.points === 21;
      await page.waitForTimeout(100);
    }
    expect(settled).toBe(true);
    // Some state between none and all was on screen: the curve filled in live.
    expect(
      [...seen].some((n) => n > 0 && n < 21),
      `points seen: ${[...seen].join(', ')}`,
    ).toBe(true);
    await page.screenshot({ path: path.join(ARTIFACTS, 'dashboard-live.png'), fullPage: true });
  }, 120_000);

  it('asks for recomputed BatchNorm statistics, and shows why a model without BatchNorm cannot have them', async () => {
    await page.locator('#path-bn').selectOption('RECOMPUTE');
    await page.locator('#path-alphas').fill('0:1:0.5');
    await page.locator('#path-show').click();
    const row = page.locator('#path-series tbody tr[data-status="ERROR"]');
    await row.waitFor({ timeout: 30_000 });
    expect(await row.textContent()).toMatch(/BAD_USER_INPUT: bnStats: RECOMPUTE needs BatchNorm layers; mlp has none/);
    // Back to the default for the tests that follow, which export the curve shown.
    await page.locator('#path-bn').selectOption('INTERPOLATE');
    await page.locator('#path-alphas').fill('0.01:0.41:0.02');
    await page.locator('#path-show').click();
    await page.locator('#path-plot[data-settled="true"][data-points="21"]').waitFor({ timeout: 30_000 });
  }, 60_000);

  it('exports the plot as PNG and SVG and its data as CSV', async () => {
    const [csv] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'CSV' }).click()]);
    const text = readFileSync((await csv.path())!, 'utf8');
    const lines = text.trim().split('\r\n');
    expect(lines[0]).toBe('series,alpha,loss,accuracy');
    expect(lines).toHaveLength(1 + 21);
    expect(lines[1]).toMatch(/^whole model,0\.01,0\.\d+,0\.\d+$/);
    const [png] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'PNG' }).click()]);
    expect(readFileSync((await png.path())!).subarray(0, 8)).toEqual(
      Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    );
    const [svg] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'SVG' }).click()]);
    expect(svg.suggestedFilename()).toBe('linpath-path-loss.svg');
    expect(readFileSync((await svg.path())!, 'utf8')).toMatch(
      /^<\?xml[^]*<svg[^>]*xmlns="http:\/\/www\.w3\.org\/2000\/svg"[^]*<\/svg>$/,
    );
  }, 60_000);

  /** The demo run's INITIAL, INTERMEDIATE and FINAL checkpoints and the id of spiral's TEST split. */
  const demoStates = async () => {
    const body = await server.graphql(
      '{ datasets { id name split } runs(filter: { nameContains: "demo-spiral-mlp-adam" }) { edges { node { checkpoints { id role } } } } }',
    );
    const checkpoints: Array<{ id: string; role: string }> = body.data.runs.edges[0].node.checkpoints;
    const role = (r: string) => checkpoints.find((c) => c.role === r)!.id;
    const test = body.data.datasets.find(
      (d: { name: string; split: string }) => d.name === 'spiral' && d.split === 'TEST',
    );
    return { initial: role('INITIAL'), middle: role('INTERMEDIATE'), final: role('FINAL'), dataset: test.id as string };
  };
  /** The same plane from the API (waiting for it): loss[j][i] and accuracy[j][i] at (xs[i], ys[j]). */
  const planeFromApi = async (input: string) => {
    const body = await server.graphql(`{ lossPlane(input: { ${input}, wait: true }) { xs ys loss accuracy status } }`);
    expect(body.errors).toBeUndefined();
    return body.data.lossPlane as {
      xs: number[];
      ys: number[];
      loss: number[][];
      accuracy: number[][];
      status: string;
    };
  };

  it('fills in a 5×5 plane through three demo checkpoints live, with contours, the states and the line A → B', async () => {
    const demo = await demoStates();
    // Opened from the nav bar: the first run with three checkpoints, INITIAL, FINAL and the one between.
    await page.goto(`${origin}/#/plane`);
    await page.locator('#plane-n').fill('5');
    expect(await page.locator('#plane-a').inputValue()).toBe(demo.initial);
    expect(await page.locator('#plane-b').inputValue()).toBe(demo.final);
    expect(await page.locator('#plane-c').inputValue()).toBe(demo.middle);
    expect(await page.locator('#plane-dataset').inputValue()).toBe(demo.dataset);
    await page.locator('#plane-show').click();
    const seen = new Set<number>();
    const deadline = Date.now() + 90_000;
    let settled = false;
    while (!settled && Date.now() < deadline) {
      const state = await page.locator('#plane-plot').evaluate((plot) => ({
        done: Number(plot.getAttribute('data-done')),
        pending: Number(plot.getAttribute('data-pending')),
        hatched: plot.querySelectorAll('rect[data-state="pending"]').length,
        coloured: plot.querySelectorAll('rect[data-state="done"]').length,
        settled: plot.getAttribute('data-settled') === 'true',
      }));
      if (state.done + state.pending > 0) {
        seen.add(state.done);
        // Every cell is drawn: the stored ones coloured, the pending ones hatched.
        expect(state.done + state.pending).toBe(25);
        expect(state.hatched).toBe(state.pending);
        expect(state.coloured).toBe(state.done);
      }
      settled = state.settled && state.done === 25;
      await page.waitForTimeout(100);
    }
    expect(settled).toBe(true);
    // One point per job (LINPATH_JOB_ALPHAS=1): some state between none and all was on screen.
    expect(
      [...seen].some((n) => n > 0 && n < 25),
      `points seen: ${[...seen].join(', ')}`,
    ).toBe(true);
    const markers = await page
      .locator('#plane-plot circle[data-marker]')
      .evaluateAll((circles) =>
        circles.map((c) => [c.getAttribute('data-marker'), Number(c.getAttribute('cx')), Number(c.getAttribute('cy'))]),
      );
    expect(markers.map((m) => m[0])).toEqual(['A', 'B', 'C']);
    const line = page.locator('#plane-plot line.line-ab');
    expect(await line.count()).toBe(1);
    const [x1, y1, x2, y2] = await Promise.all(['x1', 'y1', 'x2', 'y2'].map((a) => line.getAttribute(a)));
    expect([Number(x1), Number(y1), Number(x2), Number(y2)]).toEqual([
      ...markers[0]!.slice(1),
      ...markers[1]!.slice(1),
    ]);
    expect(await page.locator('#plane-plot g.contours path').count()).toBeGreaterThan(0);
    const url = new URL(page.url());
    const params = new URLSearchParams(url.hash.split('?')[1]);
    expect(Object.fromEntries(params)).toMatchObject({ a: demo.initial, b: demo.final, c: demo.middle, n: '5' });
    await page.screenshot({ path: path.join(ARTIFACTS, 'dashboard-plane.png'), fullPage: true });
  }, 120_000);

  it('shows accuracy and a log scale, keeps them in the URL, and a link shows the same plane', async () => {
    await page.locator('#plane-log').check();
    await page.locator('#plane-plot g.legend[data-scale="log"]').waitFor();
    await page.locator('#plane-tab-accuracy').click();
    await page.locator('#plane-plot svg[aria-label="accuracy over the plane"]').waitFor();
    // Accuracy is always on a linear scale.
    expect(await page.locator('#plane-plot g.legend').getAttribute('data-scale')).toBe('linear');
    const link = page.url();
    expect(link).toMatch(/[?&]scale=log(&|$)/);
    expect(link).toMatch(/[?&]metric=accuracy(&|$)/);
    await page.goto('about:blank');
    await page.goto(link);
    // Stored already: the whole plane at once, with the switches as they were.
    await page.locator('#plane-plot[data-settled="true"][data-done="25"]').waitFor({ timeout: 30_000 });
    expect(await page.locator('#plane-log').isChecked()).toBe(true);
    expect(await page.locator('#plane-tab-accuracy').getAttribute('aria-selected')).toBe('true');
    expect(await page.locator('#plane-cost').textContent()).toBe('all 25 points stored');
    await page.locator('#plane-tab-loss').click();
  }, 60_000);

  it('exports the plane as PNG and SVG and its points as CSV, the numbers of the API', async () => {
    const demo = await demoStates();
    const [csv] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'CSV' }).click()]);
    const lines = readFileSync((await csv.path())!, 'utf8')
      .trim()
      .split('\r\n');
    expect(lines[0]).toBe('x,y,loss,accuracy');
    expect(lines).toHaveLength(1 + 25);
    const plane = await planeFromApi(
      `center: "${demo.initial}", xState: "${demo.final}", yState: "${demo.middle}", dataset: "${demo.dataset}", resolution: 5`,
    );
    expect(plane.status).toBe('COMPLETE');
    // Row by row (y, then x), as the API's loss[j][i].
    const expected = plane.ys.flatMap((y, j) =>
      plane.xs.map((x, i) => [x, y, plane.loss[j]![i], plane.accuracy[j]![i]].join(',')),
    );
    expect(lines.slice(1)).toEqual(expected);
    const [png] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'PNG' }).click()]);
    expect(readFileSync((await png.path())!).subarray(0, 8)).toEqual(
      Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    );
    const [svg] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'SVG' }).click()]);
    expect(svg.suggestedFilename()).toBe('linpath-plane-loss.svg');
    const text = readFileSync((await svg.path())!, 'utf8');
    expect(text).toMatch(/^<\?xml[^]*<svg[^>]*xmlns="http:\/\/www\.w3\.org\/2000\/svg"[^]*<\/svg>$/);
    expect(text.match(/<rect [^>]*data-state="done"/g)).toHaveLength(25);
  }, 60_000);

  it('draws a Bezier curve through a bend next to the straight line, with both barriers', async () => {
    const demo = await demoStates();
    await page.goto(
      `${origin}/#/path?from=${demo.initial}&to=${demo.final}&dataset=${demo.dataset}&alphas=0:1:0.25&blockwise=off&bend=${demo.middle}`,
    );
    const plot = page.locator('#path-plot[data-settled="true"]');
    await plot.waitFor({ timeout: 60_000 });
    expect(await plot.getAttribute('data-series')).toBe('2');
    expect(await plot.getAttribute('data-points')).toBe('10');
    const rows = page.locator('#path-series tbody tr');
    expect(await rows.evaluateAll((r) => r.map((row) => row.getAttribute('data-series')))).toEqual([
      'whole model',
      'bezier via intermediate · step 100',
    ]);
    for (const status of await rows.evaluateAll((r) => r.map((row) => row.getAttribute('data-status'))))
      expect(status).toBe('COMPLETE');
    // Each row's rise (column 5) is the API's: the straight line's and the curve's.
    const body = await server.graphql(
      `{ curvePath(input: { from: "${demo.initial}", to: "${demo.final}", bend: "${demo.middle}", dataset: "${demo.dataset}", ts: [0, 0.25, 0.5, 0.75, 1] }) { barrier { shape rise } line { barrier { shape rise } } } }`,
    );
    expect(body.errors).toBeUndefined();
    const cells = await rows.evaluateAll((r) =>
      r.map((row) => [row.children[3]!.textContent, Number(row.children[4]!.textContent)]),
    );
    const { curvePath } = body.data;
    expect(cells[0]![0]).toBe(curvePath.line.barrier.shape);
    expect(cells[0]![1]).toBeCloseTo(curvePath.line.barrier.rise, 3);
    expect(cells[1]![0]).toBe(curvePath.barrier.shape);
    expect(cells[1]![1]).toBeCloseTo(curvePath.barrier.rise, 3);
    await page.screenshot({ path: path.join(ARTIFACTS, 'dashboard-curve.png'), fullPage: true });
  }, 120_000);

  it('scatters a barrier metric against test accuracy with coefficients', async () => {
    await page.goto(`${origin}/#/correlation`);
    // Opening queues nothing: the runs' own test splits by default, evaluated when asked.
    expect(await page.locator('#corr-dataset').inputValue()).toBe('');
    await page.locator('#corr-run').click();
    await page.locator('#corr-plot[data-points]:not([data-points="0"])').waitFor({ timeout: 90_000 });
    expect(Number(await page.locator('#corr-plot').getAttribute('data-points'))).toBeGreaterThanOrEqual(1);
    expect(await page.locator('#corr-table tbody tr[data-group="all runs"]').count()).toBe(1);
    expect(await plotFill('#corr-plot')).toBeGreaterThan(0.97);
    // The regression's 95% band is clipped to the frame (with few runs it reaches far beyond the points).
    expect(await page.locator('#corr-plot g[aria-label="linear-regression"]').getAttribute('clip-path')).toMatch(
      /^url\(#/,
    );
    await page.screenshot({ path: path.join(ARTIFACTS, 'dashboard-correlation.png'), fullPage: true });
  }, 120_000);

  it('draws Fig. 1A for a run: its own θ_0 → θ_T on the train and test splits, and says how to add other inits', async () => {
    const body = await server.graphql(
      '{ runs(filter: { nameContains: "demo-spiral-mlp-adam" }) { edges { node { id } } } }',
    );
    const id = body.data.runs.edges[0].node.id as string;
    await page.goto(`${origin}/#/fig1a?run=${id}`);
    const plots = page.locator('#fig1a-plots[data-settled="true"]');
    await plots.waitFor({ timeout: 90_000 });
    // The demo has no other initialisations stored: the blue curve on each split, and the hint.
    expect(await plots.getAttribute('data-curves')).toBe('2');
    expect(await page.locator('#fig1a-plots figure svg').count()).toBe(2);
    const rows = await page.locator('#fig1a-table tr').allTextContents();
    expect(await page.locator('#fig1a-table tr td:first-child').allTextContents()).toEqual(['train', 'test']);
    for (const row of rows.slice(1)) expect(row).toMatch(/COMPLETE$/);
    expect(await page.getByText('--from random:<seed>').count()).toBe(1);
    expect(await page.getByText('No learning curve').count()).toBe(1);
    await page.screenshot({ path: path.join(ARTIFACTS, 'dashboard-fig1a.png'), fullPage: true });
  }, 120_000);

  it("opens Curves from the nav bar on the first run's own end points, and its link keeps the α grid, block-wise switch and BatchNorm mode", async () => {
    const demo = await demoStates();
    await page.goto(`${origin}/#/runs`);
    await page.locator('nav a[data-route="path"]').click();
    await expect.poll(() => page.locator('#path-from').inputValue(), { timeout: 30_000 }).toBe(demo.initial);
    expect(await page.locator('#path-to').inputValue()).toBe(demo.final);
    expect(await page.locator('#path-dataset').inputValue()).toBe(demo.dataset);
    await page.locator('#path-alphas').fill('0:1:0.5');
    await page.locator('#path-blockwise').uncheck();
    await page.locator('#path-bn').selectOption('KEEP_TO');
    await page.locator('#path-show').click();
    await expect.poll(() => page.url()).toMatch(/[?&]bn=KEEP_TO(&|$)/);
    const link = page.url();
    expect(Object.fromEntries(new URLSearchParams(new URL(link).hash.split('?')[1]))).toMatchObject({
      from: demo.initial,
      to: demo.final,
      dataset: demo.dataset,
      alphas: '0:1:0.5',
      blockwise: 'off',
      bn: 'KEEP_TO',
    });
    await page.goto('about:blank');
    await page.goto(link);
    await expect.poll(() => page.locator('#path-from').inputValue(), { timeout: 30_000 }).toBe(demo.initial);
    expect(await page.locator('#path-to').inputValue()).toBe(demo.final);
    expect(await page.locator('#path-alphas').inputValue()).toBe('0:1:0.5');
    expect(await page.locator('#path-blockwise').isChecked()).toBe(false);
    expect(await page.locator('#path-bn').inputValue()).toBe('KEEP_TO');
  }, 60_000);

  it('serves GraphiQL at /graphql, bundled', async () => {
    await page.goto(`${origin}/graphql`);
    await page.locator('.graphiql-container').waitFor({ timeout: 30_000 });
    await page.screenshot({ path: path.join(ARTIFACTS, 'graphiql.png') });
  }, 60_000);

  it('asked for nothing outside the server', () => {
    expect(offsite).toEqual([]);
  });
});

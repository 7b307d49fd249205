import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildOnce, killLeftovers, startServer, type RunningServer } from '../helpers/server.js';

/**
 * L7 of issue 13, in a browser: the dashboard and GraphiQL work under their Content-Security-Policy (no violation
 * reported while the dashboard lists runs and fills a new curve in live over its WebSocket, nor while GraphiQL
 * runs a query), the policy is enforced (a script element added to the page does not run), and no page can frame
 * them. Debian's Chromium, headless, against `linpath start` on a fresh home (the demo's PyTorch run).
 */
const CHROMIUM = process.env.LINPATH_CHROMIUM ?? '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--no-first-run',
  '--disable-background-networking',
];

describe.skipIf(!existsSync(CHROMIUM) && !process.env.CI)('the Content-Security-Policy in Chromium', () => {
  let home: string;
  let server: RunningServer;
  let browser: Browser;
  let page: Page;
  let origin: string;

  beforeAll(async () => {
    buildOnce();
    home = mkdtempSync(path.join(tmpdir(), 'linpath-csp-'));
    server = await startServer({ LINPATH_HOME: home, PORT: '0', LINPATH_JOB_ALPHAS: '1', LINPATH_POLL_MS: '100' });
    origin = new URL(server.url).origin;
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true });
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    // Every violation the browser reports, from the first script on. (Page code as text: the tests' types have no DOM.)
    await page.addInitScript({
      content:
        'window.cspViolations = []; document.addEventListener("securitypolicyviolation", ' +
        '(event) => window.cspViolations.push(`${event.effectiveDirective} ${event.blockedURI}`));',
    });
  }, 660_000);

  afterAll(async () => {
    await browser?.close();
    await server?.stop();
    await killLeftovers();
    if (home !== undefined) rmSync(home, { recursive: true, force: true });
  });

  const violations = () => page.evaluate<string[]>('window.cspViolations ?? []');

  it('sends a policy without inline scripts or eval, and no framing, with the dashboard and GraphiQL', async () => {
    for (const [pathname, accept] of [
      ['/', 'text/html'],
      ['/graphql', 'text/html'],
    ] as const) {
      const response = await fetch(`${origin}${pathname}`, { headers: { accept } });
      expect(response.status).toBe(200);
      const policy = response.headers.get('content-security-policy') ?? '';
      const directives = new Map(
        policy.split(';').map((d) => {
          const [name = '', ...values] = d.trim().split(/\s+/);
          return [name, values] as const;
        }),
      );
      expect(directives.get('script-src')).toEqual(["'self'"]);
      expect(directives.get('default-src')).toEqual(["'self'"]);
      expect(directives.get('frame-ancestors')).toEqual(["'none'"]);
      expect(directives.get('object-src')).toEqual(["'none'"]);
      expect(response.headers.get('x-frame-options')).toBe('DENY');
      // The pages themselves carry no inline script for the policy to break.
      expect(await response.text()).not.toMatch(/<script(?![^>]*\ssrc=)[^>]*>/);
    }
  });

  it('lets the dashboard fill a new curve in live over its WebSocket, with no violation', async () => {
    const frames: string[] = [];
    page.on('websocket', (socket) => socket.on('framereceived', ({ payload }) => frames.push(String(payload))));
    await page.goto(`${origin}/`);
    await page.locator('#runs-table tr[data-run="demo-spiral-mlp-adam"] a').click();
    await page.locator('#path-show').waitFor({ timeout: 60_000 });
    await page.locator('#path-blockwise').uncheck();
    await page.locator('#path-alphas').fill('0.015:0.415:0.02');
    await page.locator('#path-show').click();
    const seen = new Set<number>();
    const deadline = Date.now() + 240_000;
    let settled = false;
    while (!settled && Date.now() < deadline) {
      const state = await page.locator('#path-plot').evaluate((plot) => ({
        points: Number(plot.getAttribute('data-points')),
        settled: plot.getAttribute('data-settled') === 'true',
      }));
      seen.add(state.points);
      settled = state.settled && state.points === 21;
      await page.waitForTimeout(100);
    }
    expect(settled).toBe(true);
    expect(
      [...seen].some((n) => n > 0 && n < 21),
      `points seen: ${[...seen].join(', ')}`,
    ).toBe(true);
    // The points came over the dashboard's WebSocket (connect-src), as pathUpdated updates.
    expect(frames.some((frame) => frame.includes('"pathUpdated"'))).toBe(true);
    expect(await violations()).toEqual([]);
  }, 360_000);

  it('blocks a script added to the page (the policy is enforced), and reports it', async () => {
    await page.evaluate(
      '(() => { const script = document.createElement("script"); ' +
        'script.textContent = "window.injectedScriptRan = true"; document.body.append(script); })()',
    );
    await page.waitForTimeout(200);
    expect(await page.evaluate('window.injectedScriptRan')).toBeUndefined();
    expect(await violations()).toEqual(['script-src-elem inline']);
  });

  it('runs GraphiQL, bundled, with no violation', async () => {
    await page.goto(`${origin}/graphql`);
    await page.locator('.graphiql-container').waitFor({ timeout: 60_000 });
    await page.waitForTimeout(500);
    expect(await violations()).toEqual([]);
  }, 120_000);

  it('cannot be framed by another page', async () => {
    const framing = await browser.newPage();
    try {
      await framing.setContent(`<iframe src="${origin}/" width="400" height="300"></iframe>`);
      await framing.waitForTimeout(2000);
      const frame = framing.frames().find((f) => f !== framing.mainFrame());
      // The framed document never loads: the frame holds no page of the server (its module script, say).
      const framed = await frame
        ?.evaluate<boolean>('document.querySelector(\'script[src^="/assets/"]\') !== null')
        .catch(() => false);
      expect(framed ?? false).toBe(false);
    } finally {
      await framing.close();
    }
  }, 60_000);
});

import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { type Browser, type Page, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { syntheticAnalysisData, syntheticReportData } from '../test/synthetic.js';
import { ANALYSIS_FIGURES, REPORT_FIGURES, renderAnalysisReport, renderReport } from './index.js';

/** Debian's chromium (apt package `chromium`); playwright-core never downloads a browser here. */
const CHROMIUM = process.env['BITLENS_CHROMIUM'] ?? '/usr/bin/chromium';
const IN_CI = process.env['CI'] === 'true';
const available = existsSync(CHROMIUM);
if (!available && !IN_CI) console.log(`report browser check skipped: no chromium at ${CHROMIUM} (install the Debian package 'chromium'; in CI this is a failure)`);

const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

const dir = mkdtempSync(join(tmpdir(), 'bitlens-report-browser-'));
let browser: Browser | undefined;
afterAll(async () => {
  await browser?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Opens a report; collects console errors and warnings, page errors, and every request that is not the file itself. */
async function open(name: string, html: string): Promise<{ page: Page; problems: string[]; requests: string[] }> {
  const file = join(dir, name);
  writeFileSync(file, html);
  // Playwright launches with a fresh temporary --user-data-dir of its own.
  browser ??= await chromium.launch({ executablePath: CHROMIUM, headless: true, args: FLAGS });
  const page = await browser.newPage();
  const problems: string[] = [];
  const requests: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') problems.push(`${m.type()}: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  page.on('request', (r) => {
    if (!r.url().startsWith('file:') && !r.url().startsWith('data:')) requests.push(r.url());
  });
  await page.goto(pathToFileURL(file).href, { waitUntil: 'load' });
  return { page, problems, requests };
}

/** Natural sizes of the raster images of a figure, decoded by the browser (a broken PNG fails to decode). */
async function rasterSizes(page: Page, id: string): Promise<number[][]> {
  // Evaluated in the page (a string: this file is type-checked without the DOM library).
  const script = `Promise.all([...document.querySelectorAll(${JSON.stringify(`figure#${id} image`)})].map(async (el) => {
    const img = new Image();
    img.src = el.getAttribute('href') ?? el.getAttribute('xlink:href') ?? '';
    await img.decode();
    const box = el.getBoundingClientRect();
    return [img.naturalWidth, img.naturalHeight, box.width, box.height];
  }))`;
  return (await page.evaluate(script)) as number[][];
}

/** Figures drawn with raster heatmaps (the synthetic data has p = 59, d_model 16: every raster is at least 16 pixels a side). */
const RASTER = new Set(['plot-key-frequency-evolution', 'plot-neuron-heatmaps', 'plot-fourier-embed', 'plot-fourier-neurons', 'plot-fourier-logits', 'plot-attention-a']);

/** Checks that every figure shows: each chart has a real size and drawn marks, each raster decodes and is painted. */
async function expectFigures(page: Page, ids: readonly string[]): Promise<void> {
  for (const id of ids) {
    const svgs = page.locator(`figure#${id} svg`);
    const n = await svgs.count();
    expect(n, id).toBeGreaterThanOrEqual(1);
    for (let i = 0; i < n; i++) {
      const box = await svgs.nth(i).boundingBox();
      expect(box?.width ?? 0, id).toBeGreaterThan(150);
      expect(box?.height ?? 0, id).toBeGreaterThan(100);
    }
    if (RASTER.has(id)) {
      const sizes = await rasterSizes(page, id);
      expect(sizes.length, id).toBeGreaterThanOrEqual(n);
      for (const [w, h, bw, bh] of sizes) {
        expect(Math.min(w ?? 0, h ?? 0), id).toBeGreaterThanOrEqual(16);
        expect(Math.min(bw ?? 0, bh ?? 0), id).toBeGreaterThan(40); // drawn on the page, scaled up
      }
    } else {
      // Lines, bars or points inside the plot, not an empty frame.
      await expect(page.locator(`figure#${id} svg path`).count(), id).resolves.toBeGreaterThan(5 * n);
    }
  }
}

describe.skipIf(!available && !IN_CI)('reports in headless Chromium', () => {
  beforeAll(() => {
    expect(existsSync(CHROMIUM), `chromium is required in CI (${CHROMIUM})`).toBe(true);
  });

  it('the comparison report shows every figure and the verdict table, fetches nothing and logs no errors', async () => {
    const { page, problems, requests } = await open('report.html', await renderReport(syntheticReportData()));
    await expectFigures(page, REPORT_FIGURES);
    const rows = page.locator('table#verdict tbody tr');
    await expect(rows.count()).resolves.toBe(3);
    await expect(page.locator('table#verdict tr.verdict-same td.verdict').innerText()).resolves.toBe('SAME');
    expect(await page.locator('table#verdict').isVisible()).toBe(true);
    await expect(page.locator('table#key-frequencies tbody tr').count()).resolves.toBe(3);
    await expect(page.locator('figure#plot-clock div.model-view').count()).resolves.toBe(3);
    expect(requests).toEqual([]);
    expect(problems).toEqual([]);
  });

  it('the analysis report shows every figure of its model, fetches nothing and logs no errors', async () => {
    const { page, problems, requests } = await open('analysis.html', await renderAnalysisReport(syntheticAnalysisData()));
    await expectFigures(page, ANALYSIS_FIGURES);
    await expect(page.locator('table#mechanism').isVisible()).resolves.toBe(true);
    expect(requests).toEqual([]);
    expect(problems).toEqual([]);
  });
});

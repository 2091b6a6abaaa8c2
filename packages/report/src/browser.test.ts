import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';
import { afterAll, describe, expect, it } from 'vitest';
import { syntheticReportData } from '../test/synthetic.js';
import { REPORT_FIGURES, renderReport } from './index.js';

/** Debian's chromium (apt package `chromium`); playwright-core never downloads a browser here. */
const CHROMIUM = process.env['BITLENS_CHROMIUM'] ?? '/usr/bin/chromium';
const IN_CI = process.env['CI'] === 'true';
const available = existsSync(CHROMIUM);
if (!available && !IN_CI) console.log(`report browser check skipped: no chromium at ${CHROMIUM} (install the Debian package 'chromium'; in CI this is a failure)`);

const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

const dir = mkdtempSync(join(tmpdir(), 'bitlens-report-browser-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe.skipIf(!available && !IN_CI)('report in headless Chromium', () => {
  it('shows every plot and the verdict table, fetches nothing and logs no errors', async () => {
    expect(existsSync(CHROMIUM), `chromium is required in CI (${CHROMIUM})`).toBe(true);
    const file = join(dir, 'report.html');
    writeFileSync(file, await renderReport(syntheticReportData()));
    // Playwright launches with a fresh temporary --user-data-dir of its own.
    const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: FLAGS });
    try {
      const page = await browser.newPage();
      const problems: string[] = [];
      const requests: string[] = [];
      page.on('console', (m) => {
        if (m.type() === 'error' || m.type() === 'warning') problems.push(`${m.type()}: ${m.text()}`);
      });
      page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
      page.on('request', (r) => {
        if (!r.url().startsWith('file:')) requests.push(r.url());
      });
      await page.goto(pathToFileURL(file).href, { waitUntil: 'load' });

      for (const id of REPORT_FIGURES) {
        const svg = page.locator(`figure.plot#${id} svg`);
        await expect(svg.count()).resolves.toBe(1);
        const box = await svg.boundingBox();
        expect(box?.width ?? 0, id).toBeGreaterThan(200);
        expect(box?.height ?? 0, id).toBeGreaterThan(100);
        // Drawn marks, not an empty frame: lines or bars inside the plot.
        await expect(page.locator(`figure.plot#${id} svg path`).count()).resolves.toBeGreaterThan(5);
      }
      const rows = page.locator('table#verdict tbody tr');
      await expect(rows.count()).resolves.toBe(3);
      await expect(page.locator('table#verdict tr.verdict-same td.verdict').innerText()).resolves.toBe('SAME');
      expect(await page.locator('table#verdict').isVisible()).toBe(true);
      await expect(page.locator('table#key-frequencies tbody tr').count()).resolves.toBe(3);
      expect(requests).toEqual([]);
      expect(problems).toEqual([]);
    } finally {
      await browser.close();
    }
  });
});

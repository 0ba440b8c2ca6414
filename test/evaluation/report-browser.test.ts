/**
 * Loads a generated report in a real headless Chromium (Debian's /usr/bin/chromium, driven by
 * playwright-core) from a file URL: no console errors, every image decoded, banner visible.
 * Needs `apt-get install chromium` (infra/setup.sh --browser); skipped with a reason otherwise.
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { renderPlanReport } from '../../src/evaluation/report-html';
import { demoAuditRecord } from './report-fixture';

const CHROMIUM = '/usr/bin/chromium';
const haveChromium = existsSync(CHROMIUM);
if (!haveChromium) console.warn(`report browser test skipped: ${CHROMIUM} is absent (install with: apt-get install -y chromium)`);

describe.skipIf(!haveChromium)('HTML report in headless Chromium', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mewm-report-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('loads from a file URL with no console errors and every image decoded', async () => {
    const { chromium } = await import('playwright-core');
    const file = join(dir, 'report.html');
    writeFileSync(file, renderPlanReport(demoAuditRecord()));
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    });
    try {
      const page = await browser.newPage();
      const problems: string[] = [];
      page.on('console', (message) => {
        if (message.type() === 'error' || message.type() === 'warning') problems.push(`${message.type()}: ${message.text()}`);
      });
      page.on('pageerror', (error) => problems.push(`pageerror: ${error.message}`));
      page.on('requestfailed', (request) => problems.push(`request failed: ${request.url().slice(0, 80)}`));
      await page.goto(pathToFileURL(file).href, { waitUntil: 'load' });
      // Page-side code as a string: the project's TypeScript config has no DOM types.
      const images = (await page.evaluate(`(async () => {
        const all = Array.from(document.images);
        await Promise.all(all.map((img) => img.decode().catch(() => undefined)));
        return all.map((img) => ({ alt: img.alt, complete: img.complete, width: img.naturalWidth, height: img.naturalHeight }));
      })()`)) as { alt: string; complete: boolean; width: number; height: number }[];
      expect(images).toHaveLength(8);
      for (const img of images) {
        expect(img.complete, img.alt).toBe(true);
        expect(img.width, img.alt).toBeGreaterThan(0);
        expect(img.height, img.alt).toBeGreaterThan(0);
      }
      expect(await page.isVisible('#synthetic-banner')).toBe(true);
      expect(await page.textContent('#synthetic-banner')).toContain('not for clinical use');
      expect(await page.textContent('#chosen-protocol')).toContain('Epirubicin; Lipiodol');
      expect(problems).toEqual([]);
      if (process.env.MEWM_REPORT_SCREENSHOT) await page.screenshot({ path: process.env.MEWM_REPORT_SCREENSHOT, fullPage: true });

      // Negative control: a PNG signature followed by garbage must show up as an undecoded image.
      const broken = { ...demoAuditRecord() };
      const bytes = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 1, 2, 3, 4, 5]);
      const brokenFile = join(dir, 'broken.html');
      writeFileSync(brokenFile, renderPlanReport({ ...broken, preCt: [{ caption: 'corrupt', png: bytes }] }));
      const control = await browser.newPage();
      await control.goto(pathToFileURL(brokenFile).href, { waitUntil: 'load' });
      const widths = (await control.evaluate('Array.from(document.images, (img) => img.naturalWidth)')) as number[];
      expect(widths.filter((w) => w === 0)).toHaveLength(1);
    } finally {
      await browser.close();
    }
  });
});

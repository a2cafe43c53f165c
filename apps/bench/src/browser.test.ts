import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const haveChromium = existsSync(chromiumPath);
const inCI = !!process.env.CI && process.env.CI !== 'false';
const configFile = fileURLToPath(new URL('../web/vite.config.ts', import.meta.url));

interface PageState {
  status: string;
  backend?: { backend: string; reason: string };
  losses: number[];
  accuracy?: number;
  attention?: { maxError: number; sparsity: number };
  error?: string;
}

// `npm run web` serves the page from the dev server with web/vite.config.ts (`cd web && npx
// vite` ran vite from apps/bench, the workspace folder, without it, and answered 404 for '/').
describe('web dev server (npm run web)', () => {
  it('answers / with the page and serves its module on 127.0.0.1', async () => {
    const vite = await import('vite');
    const server = await vite.createServer({
      configFile,
      mode: 'development',
      server: { port: 0, host: '127.0.0.1' },
      logLevel: 'error',
    });
    try {
      await server.listen();
      const base = server.resolvedUrls?.local[0] ?? '';
      expect(base).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
      const page = await fetch(base);
      expect(page.status).toBe(200);
      expect(await page.text()).toContain('blockwise in the browser');
      const main = await fetch(new URL('main.ts', base));
      expect(main.status).toBe(200);
    } finally {
      await server.close();
    }
  }, 60_000);
});

// The page trains the digits classifier in headless Chromium (Debian's package, driven by
// playwright-core; no browser download). Off CI without Chromium it skips, saying why; in CI
// a missing Chromium fails.
describe.skipIf(!haveChromium && !inCI)(`browser page (needs ${chromiumPath}: apt-get install chromium)`, () => {
  let close: (() => Promise<void>) | undefined;
  let url = '';
  const profile = mkdtempSync(join(tmpdir(), 'blockwise-chromium-'));

  beforeAll(async () => {
    if (!haveChromium)
      throw new Error(`CI is set but ${chromiumPath} does not exist: install Debian's chromium package`);
    const vite = await import('vite');
    await vite.build({ configFile, logLevel: 'error' });
    const server = await vite.preview({ configFile, preview: { port: 0, host: '127.0.0.1' }, logLevel: 'error' });
    url = server.resolvedUrls?.local[0] ?? '';
    close = () => new Promise<void>((r) => server.httpServer.close(() => r()));
  });

  afterAll(async () => {
    await close?.();
    rmSync(profile, { recursive: true, force: true });
  });

  it('loads, trains some steps on the best backend, and the loss falls', async () => {
    const { chromium } = await import('playwright-core');
    const context = await chromium.launchPersistentContext(profile, {
      executablePath: chromiumPath,
      headless: true,
      args: [
        '--no-sandbox',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--enable-unsafe-webgpu',
      ],
    });
    try {
      const page = await context.newPage();
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(String(e)));
      await page.goto(`${url}?steps=120`);
      await page.waitForFunction(
        () => {
          const s = (globalThis as unknown as { __blockwise?: { status: string } }).__blockwise?.status;
          return s === 'done' || s === 'error';
        },
        undefined,
        { timeout: 240_000, polling: 500 },
      );
      const state = (await page.evaluate(
        () => (globalThis as unknown as { __blockwise: unknown }).__blockwise,
      )) as PageState;
      expect(errors).toEqual([]);
      expect(state.error).toBeUndefined();
      expect(state.status).toBe('done');
      expect(['webgpu', 'webgl', 'wasm']).toContain(state.backend?.backend);
      const L = state.losses;
      expect(L.length).toBe(120);
      const mean = (a: number[]) => a.reduce((s, v) => s + v, 0) / a.length;
      // ln(10) = 2.30 is the loss of a uniform guess; the last steps must be well below the first.
      expect(mean(L.slice(0, 5))).toBeGreaterThan(1.5);
      expect(mean(L.slice(-10))).toBeLessThan(0.5 * mean(L.slice(0, 5)));
      expect(state.accuracy).toBeGreaterThan(0.8);
      expect(state.attention!.maxError).toBeLessThan(1e-4);
      expect(state.attention!.sparsity).toBeGreaterThan(40);
      console.log(
        `browser page: ${state.backend?.backend} (${state.backend?.reason}), loss ${mean(L.slice(0, 5)).toFixed(3)} -> ${mean(L.slice(-10)).toFixed(3)}, accuracy ${state.accuracy}`,
      );
    } finally {
      await context.close();
    }
  });
});

// Issue 15's target: the HTML report fits a 1,400 px window. A synthetic report at least as wide
// as a real quick run: a kind with 30 metrics and long names, 14-series charts, a wide caption.
describe.skipIf(!haveChromium && !inCI)('report.html in Chromium', () => {
  const out = mkdtempSync(join(tmpdir(), 'blockwise-report-width-'));
  afterAll(() => rmSync(out, { recursive: true, force: true }));

  it('is at most 1,400 px wide', async () => {
    if (!haveChromium)
      throw new Error(`CI is set but ${chromiumPath} does not exist: install Debian's chromium package`);
    const { writeReport } = await import('./report.js');
    const long = 'forecast cosine@450 -> linear@150 with a rather long configuration name';
    const results = Array.from({ length: 12 }, (_, i) => ({
      name: `${long} ${i}`,
      kind: 'wide',
      params: {
        optimizer: `AdamW8bit(js kernel) variant ${i}`,
        seed: i,
        parameters: 1048576 * (i + 1),
        backend: 'webgpu',
      },
      metrics: Object.fromEntries(
        Array.from({ length: 30 }, (_, m) => [
          `someRatherLongMetricName${m}VsTfjsAdam`,
          { value: 1234.5678 * (m + 1) * (i + 1), unit: m % 2 ? 'ms' : 'GFLOP/s' },
        ]),
      ),
    }));
    const series = Array.from({ length: 14 }, (_, i) => ({
      name: `AdamW8bit(js kernel) variant ${i} with optimBits 4`,
      points: [
        [256, 12 + i],
        [2048, 360 * (i + 1)],
      ] as [number, number][],
    }));
    await writeReport(
      {
        environment: {
          node: 'v20',
          platform: 'linux-x64',
          backend: 'webgpu',
          backendReason: 'requested',
          adapter: 'mesa llvmpipe-llvm-15-0-6-256-bits- llvmpipe: Mesa 25.0.7 (LLVM 15.0.6) 0.0.1 (software)',
          cpu: 'AMD EPYC',
          cores: 2,
          memoryGiB: 24,
          mode: 'quick',
          seed: 1,
          command: 'blockwise-bench --backend webgpu',
          date: '2026-12-03T00:00:00Z',
        },
        suites: [
          {
            name: 'wide',
            description: 'x '.repeat(200),
            seconds: 1,
            results,
            images: [],
            notes: ['y '.repeat(150)],
            checks: [{ name: 'z '.repeat(60), pass: false, detail: 'w '.repeat(200) }],
            charts: [
              {
                id: 'a',
                title: 'step time of every optimizer against the parameters',
                kind: 'bar',
                x: 'parameters',
                y: 'ms',
                series,
              },
              { id: 'b', title: 'time vs length', kind: 'line', x: 'sequence length', y: 'ms', series },
            ],
          },
        ],
      },
      out,
    );
    const { chromium } = await import('playwright-core');
    const browser = await chromium.launch({ executablePath: chromiumPath, headless: true, args: ['--no-sandbox'] });
    try {
      const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
      await page.goto(`file://${join(out, 'report.html')}`);
      await page.waitForFunction(() => document.querySelectorAll('.chart svg, .chart canvas').length >= 2, undefined, {
        timeout: 60_000,
      });
      const width = await page.evaluate(() => document.documentElement.scrollWidth);
      expect(width).toBeLessThanOrEqual(1400);
      // Nor does any table or chart scroll inside its own box.
      const scrolling = await page.evaluate(
        () =>
          Array.from(document.querySelectorAll('.tw, .chart')).filter((e) => e.scrollWidth > e.clientWidth + 1).length,
      );
      expect(scrolling).toBe(0);
      // Every table stays within 12 columns.
      const cols = await page.evaluate(() =>
        Array.from(document.querySelectorAll('table')).map((t) => t.querySelectorAll('thead th').length),
      );
      expect(Math.max(...cols)).toBeLessThanOrEqual(12);
    } finally {
      await browser.close();
    }
  }, 120_000);
});

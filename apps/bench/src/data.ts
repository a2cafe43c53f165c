import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import type { BenchData } from './suite.js';

export { digitsSplit, type DigitsPart, type DigitsSplitOptions } from './split.js';

/**
 * The folder holding the shipped data (apps/bench/data): next to the source, or, for the
 * bundled GPU build (.gpu/main.mjs), in the repository it runs from.
 */
export const dataDir =
  [
    fileURLToPath(new URL('../data/', import.meta.url)),
    resolve(process.cwd(), 'apps/bench/data'),
    resolve(dirname(process.argv[1] ?? '.'), '../apps/bench/data'),
  ].find((d) => existsSync(join(d, 'digits', 'digits.csv.gz'))) ?? fileURLToPath(new URL('../data/', import.meta.url));

let digitsCache: ReturnType<BenchData['digits']> | undefined;
let textCache: string | undefined;

/** Parses the digits CSV (64 pixels in 0..16, then the label) into [0, 1] floats and labels. */
export function parseDigitsCsv(csv: string): { x: Float32Array; y: Int32Array; n: number; dim: 64 } {
  const rows = csv.split(/\r?\n/).filter((l) => /^\s*\d/.test(l));
  const n = rows.length;
  const x = new Float32Array(n * 64);
  const y = new Int32Array(n);
  rows.forEach((row, i) => {
    const v = row.split(',').map(Number);
    if (v.length !== 65 || v.some((e) => !Number.isFinite(e))) {
      throw new Error(`digits.csv: row ${i} must hold 65 numbers, got ${v.length}`);
    }
    for (let j = 0; j < 64; j++) x[i * 64 + j] = v[j]! / 16;
    y[i] = v[64]!;
  });
  return { x, y, n, dim: 64 };
}

/** The data shipped with the bench app, loaded once. */
export const benchData: BenchData = {
  digits() {
    digitsCache ??= parseDigitsCsv(gunzipSync(readFileSync(join(dataDir, 'digits', 'digits.csv.gz'))).toString('utf8'));
    return digitsCache;
  },
  text() {
    if (textCache === undefined) {
      const dir = join(dataDir, 'text');
      const files = readdirSync(dir)
        .filter((f) => f.endsWith('.txt') && !f.startsWith('COPYRIGHT'))
        .sort();
      textCache = files
        .map((f) => readFileSync(join(dir, f), 'utf8'))
        .join('\n%\n')
        .split(/\r?\n%\r?\n/)
        .map((e) => e.trim())
        .filter((e) => e.length > 0)
        .join('\n\n');
    }
    return textCache;
  },
};

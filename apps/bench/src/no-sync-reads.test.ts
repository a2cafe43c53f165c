import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const syncRead = /\.(dataSync|arraySync)\(|readSync\(/;

/**
 * The tfjs WebGPU backend cannot read back synchronously in Node, and a per-step read stalls any
 * GPU: package code reads with `await t.data()`. Deliberate exceptions, each a synchronous API by
 * name: the tensor package's `toViewSync` / `unpackUint8Sync`, and `defineKernel`'s read-back
 * fallback for backends without a program of ours (webgl, tfjs-node), which never runs on webgpu.
 */
const allowed: Record<string, RegExp> = {
  'packages/tensor/src/view.ts': /./,
  'packages/tensor/src/kernel.ts': /backend\.readSync\(t\.dataId\)/,
};

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory()
      ? sources(join(dir, e.name))
      : e.name.endsWith('.ts') && !e.name.endsWith('.test.ts')
        ? [join(dir, e.name)]
        : [],
  );
}

describe('no synchronous reads in package sources', () => {
  for (const pkg of readdirSync(join(root, 'packages'))) {
    it(`@blockwise/${pkg}`, () => {
      const found: string[] = [];
      for (const file of sources(join(root, 'packages', pkg, 'src'))) {
        const rel = file.slice(root.length);
        if (/testUtil|testing\.ts$/.test(rel)) continue;
        readFileSync(file, 'utf8')
          .split('\n')
          .forEach((line, i) => {
            if (syncRead.test(line) && !allowed[rel]?.test(line)) found.push(`${rel}:${i + 1}: ${line.trim()}`);
          });
      }
      expect(found).toEqual([]);
    });
  }
});

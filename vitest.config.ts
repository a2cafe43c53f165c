import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const root = new URL('./', import.meta.url);
const packages = ['tensor', 'schedules', 'optimizers', 'attention', 'pruning', 'flow'];

/**
 * Tests import sibling packages from their source, so `npm test` needs no build. The mapping is
 * declared once, as `paths` in tsconfig.base.json (which TypeScript and tsx read too); here it
 * becomes vitest aliases: `@blockwise/*` -> `./packages/*\/src/index.ts`, exact entries first.
 */
const paths: Record<string, string[]> = JSON.parse(readFileSync(new URL('tsconfig.base.json', root), 'utf8'))
  .compilerOptions.paths;
const alias = Object.entries(paths)
  .sort(([a], [b]) => Number(a.includes('*')) - Number(b.includes('*')))
  .map(([pattern, [target]]) => {
    const escaped = pattern.replace(/[.+?^${}()|[\]\\/]/g, '\\$&');
    return {
      find: new RegExp(`^${escaped.replace('*', '([a-z-]+)')}$`),
      replacement: fileURLToPath(new URL(target!.replace('*', '$1'), root)),
    };
  });

export default defineConfig({
  test: {
    projects: [
      ...packages.map((name) => ({
        resolve: { alias },
        test: {
          name,
          root: `./packages/${name}`,
          include: ['src/**/*.test.ts'],
          environment: 'node',
          testTimeout: 120_000,
          hookTimeout: 120_000,
        },
      })),
      {
        resolve: { alias },
        test: {
          name: 'bench',
          root: './apps/bench',
          include: ['src/**/*.test.ts'],
          environment: 'node',
          testTimeout: 300_000,
          hookTimeout: 300_000,
        },
      },
    ],
  },
});

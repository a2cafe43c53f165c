import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const packages = ['tensor', 'schedules', 'optimizers', 'attention', 'pruning', 'flow'];

/** Tests import sibling packages from their source, so `npm test` needs no build. */
const alias = [
  {
    find: /^@blockwise\/tensor\/testing$/,
    replacement: fileURLToPath(new URL('./packages/tensor/src/testing.ts', import.meta.url)),
  },
  {
    find: /^@blockwise\/optimizers\/layers$/,
    replacement: fileURLToPath(new URL('./packages/optimizers/src/layers.ts', import.meta.url)),
  },
  ...packages.map((name) => ({
    find: new RegExp(`^@blockwise/${name}$`),
    replacement: fileURLToPath(new URL(`./packages/${name}/src/index.ts`, import.meta.url)),
  })),
];

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

import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { defineConfig } from 'vite';

const packages = ['tensor', 'schedules', 'optimizers', 'attention', 'pruning', 'flow'];

const digitsCsv = fileURLToPath(new URL('../data/digits/digits.csv.gz', import.meta.url));

// The page imports the packages from source, like the tests; `virtual:digits-csv` is the
// digits CSV, unzipped at build time.
export default defineConfig({
  plugins: [
    {
      name: 'blockwise-digits',
      resolveId: (id) => (id === 'virtual:digits-csv' ? '\0virtual:digits-csv' : null),
      load: (id) =>
        id === '\0virtual:digits-csv'
          ? `export default ${JSON.stringify(gunzipSync(readFileSync(digitsCsv)).toString('utf8'))};`
          : null,
    },
  ],
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: './',
  resolve: {
    alias: packages.map((name) => ({
      find: new RegExp(`^@blockwise/${name}$`),
      replacement: fileURLToPath(new URL(`../../../packages/${name}/src/index.ts`, import.meta.url)),
    })),
  },
  build: { target: 'es2022', outDir: 'dist', emptyOutDir: true, chunkSizeWarningLimit: 4000 },
  server: { fs: { allow: [fileURLToPath(new URL('../../../', import.meta.url))] } },
  logLevel: 'warn',
});

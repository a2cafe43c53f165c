import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { defineConfig } from 'vite';

const packages = ['tensor', 'schedules', 'optimizers', 'attention', 'pruning', 'flow'];

const digitsCsv = fileURLToPath(new URL('../data/digits/digits.csv.gz', import.meta.url));

// The page imports the packages from source, like the tests; `virtual:digits-csv` is the
// digits CSV, unzipped at build time.
export default defineConfig(({ command }) => ({
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
  // Relative URLs in the build (dist/ opens from any folder); '/' for the dev server, which
  // answers 404 for '/' under a relative base.
  base: command === 'build' ? './' : '/',
  resolve: {
    alias: packages.map((name) => ({
      find: new RegExp(`^@blockwise/${name}$`),
      replacement: fileURLToPath(new URL(`../../../packages/${name}/src/index.ts`, import.meta.url)),
    })),
  },
  build: { target: 'es2022', outDir: 'dist', emptyOutDir: true, chunkSizeWarningLimit: 4000 },
  server: { host: '127.0.0.1', fs: { allow: [fileURLToPath(new URL('../../../', import.meta.url))] } },
  preview: { host: '127.0.0.1' },
  // The dependency scan does not run plugins: it must not try to resolve the virtual module.
  optimizeDeps: { exclude: ['virtual:digits-csv'] },
  // The dev server prints its address; builds print only problems.
  logLevel: command === 'build' ? 'warn' : 'info',
}));

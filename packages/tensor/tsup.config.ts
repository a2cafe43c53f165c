import { defineConfig } from 'tsup';

export default defineConfig({
  entry: ['src/index.ts', 'src/testing.ts'],
  format: ['esm', 'cjs'],
  dts: true,
  sourcemap: true,
  clean: true,
  target: 'es2022',
  shims: true,
  tsconfig: '../../tsconfig.build.json',
  // `@blockwise/tensor/testing` runs inside the caller's vitest, which is not a peer (installs
  // without vitest stay clean), so it must be named here to stay out of the bundle.
  external: ['vitest'],
});

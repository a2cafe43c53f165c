/**
 * The package as plain `node` loads it: the built files (not these sources), Node's own module
 * resolution (no vitest transforms or aliases), ESM and CommonJS, in a folder that holds only
 * what a user installed. Vitest resolves tfjs-core's extensionless ES module imports that Node
 * refuses, so only a child process can show whether gradients are really registered.
 */
import { execFile } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const pkgDir = fileURLToPath(new URL('..', import.meta.url));
const require = createRequire(import.meta.url);
/** Where the repository's installed tfjs packages live (symlinked into the fake installs). */
const tfjsDir = (name: string) => dirname(require.resolve(`@tensorflow/${name}/package.json`));

function newestSource(): number {
  const src = join(pkgDir, 'src');
  const files = readdirSync(src)
    .filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'))
    .map((f) => join(src, f));
  files.push(join(pkgDir, 'tsup.config.ts'), join(pkgDir, 'package.json'));
  return Math.max(...files.map((f) => statSync(f).mtimeMs));
}

/**
 * The package's dist when it is up to date; otherwise the same tsup build (without type
 * declarations, which Node does not read) into a private folder, so a stale or missing dist
 * never makes this test pass or fail, and a concurrent build of dist is never disturbed.
 */
async function builtDist(scratch: string): Promise<string> {
  const dist = join(pkgDir, 'dist');
  const built = ['index.js', 'index.cjs'].map((f) => join(dist, f));
  if (built.every(existsSync) && Math.min(...built.map((f) => statSync(f).mtimeMs)) >= newestSource()) return dist;
  const out = join(scratch, 'build');
  const { build } = (await import('tsup')) as typeof import('tsup');
  const config = (await import(pathToFileURL(join(pkgDir, 'tsup.config.ts')).href)) as {
    default: import('tsup').Options;
  };
  const c = config.default;
  // Absolute paths: a test worker cannot change its working folder.
  const entry = (c.entry as string[]).map((e) => join(pkgDir, e));
  const tsconfig = join(pkgDir, c.tsconfig ?? 'tsconfig.json');
  // tsup reads the externals from the working folder's package.json; name them from ours.
  const manifest = require(join(pkgDir, 'package.json')) as Record<string, Record<string, string> | undefined>;
  const deps = [...Object.keys(manifest.dependencies ?? {}), ...Object.keys(manifest.peerDependencies ?? {})];
  const external: RegExp[] = deps.map((d) => new RegExp(`^${d.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}(/|$)`));
  external.push(
    ...((c.external ?? []) as (string | RegExp)[]).map((e) => (typeof e === 'string' ? new RegExp(`^${e}(/|$)`) : e)),
  );
  await build({
    ...c,
    entry,
    tsconfig,
    external,
    outDir: out,
    dts: false,
    sourcemap: false,
    clean: false,
    silent: true,
  });
  return out;
}

/** An install folder: this package's built files plus symlinks to the named tfjs packages. */
function fakeInstall(root: string, name: string, dist: string, tfjs: string[]): string {
  const dir = join(root, name);
  const own = join(dir, 'node_modules', '@blockwise', 'tensor');
  mkdirSync(own, { recursive: true });
  cpSync(join(pkgDir, 'package.json'), join(own, 'package.json'));
  cpSync(dist, join(own, 'dist'), { recursive: true });
  mkdirSync(join(dir, 'node_modules', '@tensorflow'), { recursive: true });
  for (const t of tfjs) symlinkSync(tfjsDir(t), join(dir, 'node_modules', '@tensorflow', t), 'dir');
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: `blockwise-${name}`, private: true }));
  return dir;
}

// What every variant computes: d/dx mean(x^2) = 2x / n, at x = [1, 2, 3] that is [2/3, 4/3, 2].
const BODY = `
  const info = await initBackend('cpu');
  const out = { backend: info.backend, gradients: info.gradients };
  try {
    out.grad = Array.from(tf.grad((x) => tf.mean(tf.square(x)))(tf.tensor1d([1, 2, 3])).dataSync());
  } catch (e) {
    out.error = e.message;
  }
  try {
    await initBackend('cpu', { requireGradients: true });
    out.required = 'ok';
  } catch (e) {
    out.required = e.message;
  }
  console.log(JSON.stringify(out));
`;
const ESM = `import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '@blockwise/tensor';
${BODY}`;
const CJS = `const tf = require('@tensorflow/tfjs-core');
const { initBackend } = require('@blockwise/tensor');
(async () => {${BODY}})().catch((e) => { console.error(e); process.exit(1); });`;

interface Outcome {
  backend: string;
  gradients: string;
  grad?: number[];
  error?: string;
  required: string;
}

function runNode(cwd: string, file: string): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [file], { cwd, timeout: 60_000 }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`node ${file} in ${cwd} failed: ${err.message}\n${stderr}`));
      // tfjs prints a banner to stdout; the result is the one JSON line.
      const line = stdout.split('\n').find((l) => l.startsWith('{'));
      if (!line) return reject(new Error(`node ${file} printed no result:\n${stdout}\n${stderr}`));
      resolve(JSON.parse(line) as Outcome);
    });
  });
}

const EXPECTED = [2 / 3, 4 / 3, 2];
const INSTALL_HINT = /install @tensorflow\/tfjs-layers \(or @tensorflow\/tfjs\)/;

describe('plain node against the built package', () => {
  let scratch = '';
  let core = '';
  let layers = '';
  beforeAll(async () => {
    scratch = mkdtempSync(join(tmpdir(), 'blockwise-tensor-node-'));
    const dist = await builtDist(scratch);
    core = fakeInstall(scratch, 'core', dist, ['tfjs-core', 'tfjs-backend-cpu']);
    layers = fakeInstall(scratch, 'layers', dist, ['tfjs-core', 'tfjs-backend-cpu', 'tfjs-layers']);
    for (const dir of [core, layers]) {
      writeFileSync(join(dir, 'main.mjs'), ESM);
      writeFileSync(join(dir, 'main.cjs'), CJS);
    }
    // The tfjs-core-only folder must really lack tfjs-layers, or its case proves nothing.
    expect(() => createRequire(join(core, 'main.cjs')).resolve('@tensorflow/tfjs-layers')).toThrow();
  }, 120_000);
  afterAll(() => {
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  });

  for (const [kind, file] of [
    ['ESM', 'main.mjs'],
    ['CJS', 'main.cjs'],
  ] as const) {
    it(`${kind} with tfjs-layers installed: initBackend loads its gradients and training works`, async () => {
      const r = await runNode(layers, file);
      expect(r).toMatchObject({ backend: 'cpu', gradients: '@tensorflow/tfjs-layers', required: 'ok' });
      expect(r.error).toBeUndefined();
      r.grad!.forEach((g, i) => expect(g).toBeCloseTo(EXPECTED[i]!, 6));
    });
    it(`${kind} with tfjs-core alone: the first gradient throws naming the package to install`, async () => {
      const r = await runNode(core, file);
      expect(r).toMatchObject({ backend: 'cpu', gradients: 'unavailable' });
      expect(r.grad).toBeUndefined();
      expect(r.error).toMatch(/gradient of 'Mean'/);
      expect(r.error).toMatch(INSTALL_HINT);
      expect(r.required).toMatch(/requireGradients: true/);
      expect(r.required).toMatch(INSTALL_HINT);
    });
  }

  it('bundled (esbuild, ES modules of tfjs-core) with tfjs-core alone: tfjs-core registers its own gradients', async () => {
    const { build } = await import('esbuild');
    await build({
      absWorkingDir: core,
      entryPoints: ['main.mjs'],
      bundle: true,
      platform: 'node',
      format: 'esm',
      // Bundlers prefer tfjs-core's "module" build, whose gradient files Node cannot load directly.
      mainFields: ['module', 'main'],
      outfile: join(core, 'out', 'bundle.mjs'),
      logLevel: 'silent',
      banner: { js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);" },
    });
    const r = await runNode(core, join('out', 'bundle.mjs'));
    expect(r).toMatchObject({ backend: 'cpu', gradients: '@tensorflow/tfjs-core', required: 'ok' });
    r.grad!.forEach((g, i) => expect(g).toBeCloseTo(EXPECTED[i]!, 6));
  });
});

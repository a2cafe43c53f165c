import * as tf from '@tensorflow/tfjs-core';
import { checkBoolean, checkOptions, describeValue } from './options.js';
import { installWasmMatMul, uninstallWasmMatMul } from './wasmMatMul.js';

/** A backend that `initBackend` can be asked for. `'auto'` picks the fastest one available. */
export type BackendName = 'auto' | 'cpu' | 'wasm' | 'webgpu' | 'webgl' | 'tensorflow';

/** A concrete tfjs backend, as chosen by `initBackend`. */
export type ConcreteBackend = Exclude<BackendName, 'auto'>;

/** What the WebGPU adapter says about itself. */
export interface AdapterInfo {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  /** True for CPU-emulated adapters (Mesa lavapipe/llvmpipe, SwiftShader, fallback adapters). */
  isSoftware: boolean;
}

/** What `initBackend` chose and why. */
export interface BackendInfo {
  backend: ConcreteBackend;
  requested: BackendName;
  reason: string;
  adapter?: AdapterInfo;
  /** Where tfjs's gradients came from; `'unavailable'` means training will throw (see `requireGradients`). */
  gradients: GradientSource;
}

/** Options of `initBackend`. */
export interface InitBackendOptions {
  /** Folder or URL prefix holding the tfjs wasm binaries; found automatically in Node. */
  wasmPaths?: string;
  /** In `'auto'`, accept a software WebGPU adapter (off by default: it is slower than wasm). */
  allowSoftwareWebGPU?: boolean;
  /**
   * Throw at start-up, naming the package to install, when no gradients can be registered
   * (plain Node with tfjs-core alone). Off by default: inference needs none, and training then
   * fails at its first gradient with the same message.
   */
  requireGradients?: boolean;
  /**
   * On wasm, route transposed and batched matmuls through XNNPACK (`installWasmMatMul`; 5-20x
   * faster backward passes). On by default; `false` restores tfjs-backend-wasm's own kernels.
   */
  fastMatMul?: boolean;
}

const VALID: readonly BackendName[] = ['auto', 'cpu', 'wasm', 'webgpu', 'webgl', 'tensorflow'];

const isNode = typeof process !== 'undefined' && typeof process.versions === 'object' && !!process.versions.node;

/** Imports a module by a computed name, so bundlers leave optional peers alone. */
async function optionalImport(spec: string): Promise<Record<string, unknown>> {
  return (await import(/* @vite-ignore */ spec)) as Record<string, unknown>;
}

type GpuLike = { requestAdapter(o?: unknown): Promise<unknown> };

let nodeGpuPromise: Promise<GpuLike | null> | undefined;

/** Sets `navigator.gpu` from Dawn (the `webgpu` package) in Node; in browsers returns the page's. */
async function getGpu(): Promise<GpuLike | null> {
  const g = globalThis as unknown as { navigator?: { gpu?: GpuLike } };
  if (g.navigator?.gpu) return g.navigator.gpu;
  if (!isNode) return null;
  nodeGpuPromise ??= (async () => {
    try {
      if (!process.env.XDG_RUNTIME_DIR) process.env.XDG_RUNTIME_DIR = '/tmp';
      const mod = await optionalImport('webgpu');
      const create = (mod.create ?? (mod.default as Record<string, unknown>)?.create) as
        ((flags: string[]) => GpuLike) | undefined;
      const globals = (mod.globals ?? (mod.default as Record<string, unknown>)?.globals) as object;
      if (!create) return null;
      Object.assign(globalThis, globals);
      const gpu = create([]);
      const nav = ((globalThis as Record<string, unknown>).navigator ??= {}) as Record<string, unknown>;
      // Node 21+ defines a read-only navigator; define the property rather than assign it.
      Object.defineProperty(nav, 'gpu', { value: gpu, configurable: true, writable: true });
      return gpu;
    } catch {
      return null;
    }
  })();
  return nodeGpuPromise;
}

const SOFTWARE = /llvmpipe|lavapipe|swiftshader|software|cpu/i;

/**
 * Describes the WebGPU adapter this process would use (Dawn in Node, `navigator.gpu` in
 * browsers), or returns null when there is none.
 */
export async function getWebGPUAdapterInfo(): Promise<AdapterInfo | null> {
  const gpu = await getGpu();
  if (!gpu) return null;
  let adapter: Record<string, unknown> | null;
  try {
    adapter = (await gpu.requestAdapter({ powerPreference: 'high-performance' })) as Record<string, unknown> | null;
  } catch {
    return null;
  }
  if (!adapter) return null;
  const info = (adapter.info ?? {}) as Record<string, unknown>;
  const s = (k: string) => (typeof info[k] === 'string' ? (info[k] as string) : '');
  const vendor = s('vendor');
  const architecture = s('architecture');
  const device = s('device');
  const description = s('description');
  const fallback = adapter.isFallbackAdapter === true || info.isFallbackAdapter === true;
  const isSoftware = fallback || SOFTWARE.test(`${vendor} ${architecture} ${device} ${description}`);
  return { vendor, architecture, device, description, isSoftware };
}

function hasFactory(name: string): boolean {
  return tf.findBackendFactory(name) != null;
}

async function wasmDefaultPath(): Promise<string | undefined> {
  if (!isNode) return undefined;
  try {
    const { createRequire } = (await optionalImport('node:module')) as {
      createRequire: (p: string) => NodeRequire;
    };
    const path = (await optionalImport('node:path')) as unknown as typeof import('node:path');
    const fs = (await optionalImport('node:fs')) as unknown as typeof import('node:fs');
    const candidates = [import.meta.url, `${process.cwd()}/`];
    for (const base of candidates.filter(Boolean)) {
      try {
        const pkg = createRequire(base).resolve('@tensorflow/tfjs-backend-wasm/package.json');
        const dir = path.join(path.dirname(pkg), 'dist');
        if (fs.existsSync(path.join(dir, 'tfjs-backend-wasm.wasm'))) return dir + path.sep;
      } catch {
        /* try the next base */
      }
    }
    // A bundled program (see shared/gpu) ships the binaries next to its entry point.
    const entry = process.argv[1];
    if (entry) {
      const dir = path.dirname(path.resolve(entry));
      if (fs.existsSync(path.join(dir, 'tfjs-backend-wasm.wasm'))) return dir + path.sep;
    }
  } catch {
    /* fall through: tfjs uses its own default */
  }
  return undefined;
}

async function loadBackend(name: ConcreteBackend, opts: InitBackendOptions): Promise<void> {
  switch (name) {
    case 'cpu':
      if (!hasFactory('cpu')) await optionalImport('@tensorflow/tfjs-backend-cpu');
      return;
    case 'wasm': {
      const mod = hasFactory('wasm') ? null : await optionalImport('@tensorflow/tfjs-backend-wasm');
      const setWasmPaths = (mod?.setWasmPaths ?? null) as ((p: string) => void) | null;
      const dir = opts.wasmPaths ?? (await wasmDefaultPath());
      if (setWasmPaths && dir) setWasmPaths(dir);
      return;
    }
    case 'webgpu':
      if (!(await getGpu())) {
        throw new Error(
          "initBackend('webgpu'): no WebGPU implementation found (in Node install the 'webgpu' package); use initBackend('wasm') or 'auto' instead",
        );
      }
      if (!hasFactory('webgpu')) await optionalImport('@tensorflow/tfjs-backend-webgpu');
      return;
    case 'webgl':
      if (!hasFactory('webgl')) await optionalImport('@tensorflow/tfjs-backend-webgl');
      return;
    case 'tensorflow':
      if (!hasFactory('tensorflow')) await optionalImport('@tensorflow/tfjs-node');
      return;
  }
}

/**
 * Where the gradients `initBackend` relies on came from. Plain Node cannot load tfjs-core's own
 * gradient files (extensionless ES module imports in a CommonJS package), so there they come from
 * tfjs-layers or the `@tensorflow/tfjs` bundle, whose Node builds carry them.
 */
export type GradientSource =
  'preloaded' | '@tensorflow/tfjs-core' | '@tensorflow/tfjs-layers' | '@tensorflow/tfjs' | 'unavailable';

/** Marks the stand-in gradients, across copies of this package (ESM and CJS) in one process. */
const STAND_IN = Symbol.for('@blockwise/tensor.missingGradient');

/** Kernels whose gradients every training step needs; all present means tfjs's set is loaded. */
const PROBES = ['Mean', 'Sum', 'BatchMatMul', 'RealDiv', 'Square'];

function hasRealGradients(): boolean {
  return PROBES.every((k) => {
    const g = tf.getGradient(k) as (object & { [STAND_IN]?: true }) | undefined;
    return g != null && !g[STAND_IN];
  });
}

function missingGradientsMessage(what: string): string {
  return (
    `${what}: no tfjs gradients are registered. Plain Node cannot load them from @tensorflow/tfjs-core ` +
    'alone (its ES module files do not load there); install @tensorflow/tfjs-layers (or @tensorflow/tfjs) ' +
    'next to it: initBackend() then loads it, or import it yourself before training'
  );
}

/**
 * Throws a clear error, naming the package to install, when tfjs's gradients are not registered;
 * call it before anything that differentiates.
 */
export function assertGradients(what: string): void {
  if (!hasRealGradients()) throw new Error(missingGradientsMessage(what));
}

/**
 * Without gradients tfjs fails deep inside backprop with "gradient function not found for Mean".
 * Stand-ins make that failure say what to install; a later real registration replaces them.
 */
function registerStandIns(): void {
  const kernels = Object.entries(tf as unknown as Record<string, unknown>)
    .filter(([k, v]) => v === k && /^[A-Z]/.test(k))
    .map(([k]) => k);
  for (const kernelName of kernels) {
    if (tf.getGradient(kernelName)) continue;
    const config = {
      kernelName,
      gradFunc: (): never => {
        throw new Error(missingGradientsMessage(`Cannot compute the gradient of '${kernelName}'`));
      },
      [STAND_IN]: true as const,
    };
    tf.registerGradient(config as unknown as tf.GradConfig);
  }
}

/** Imports a package as the process's working folder sees it (pnpm hides undeclared packages from us). */
async function importFromCwd(name: string): Promise<unknown> {
  if (!isNode) throw new Error('not Node');
  const { createRequire } = (await optionalImport('node:module')) as {
    createRequire: (p: string) => NodeRequire;
  };
  const { pathToFileURL } = (await optionalImport('node:url')) as unknown as typeof import('node:url');
  return optionalImport(pathToFileURL(createRequire(`${process.cwd()}/`).resolve(name)).href);
}

let attempted: Promise<GradientSource> | undefined;

/**
 * Registers tfjs's gradients, which tfjs-core alone does not. Bundlers and test runners load
 * tfjs-core's own gradient modules (a literal import, so bundlers include it). Plain Node cannot,
 * so there tfjs-layers or `@tensorflow/tfjs` is loaded when installed; their Node builds register
 * the same gradients into tfjs-core's global registry. Failing all, stand-ins that name the
 * package to install take the place of the gradients.
 */
function registerGradients(): Promise<GradientSource> {
  attempted ??= hasRealGradients() ? Promise.resolve('preloaded') : loadGradients();
  // Stand-ins are replaced when the caller loads tfjs-layers later (or tfjs-node brings them).
  return attempted.then((s) => (s === 'unavailable' && hasRealGradients() ? 'preloaded' : s));
}

async function loadGradients(): Promise<GradientSource> {
  const attempts: [GradientSource, () => Promise<unknown>][] = [
    ['@tensorflow/tfjs-core', () => import('@tensorflow/tfjs-core/dist/register_all_gradients.js')],
    ['@tensorflow/tfjs-layers', () => optionalImport('@tensorflow/tfjs-layers')],
    ['@tensorflow/tfjs', () => optionalImport('@tensorflow/tfjs')],
    ['@tensorflow/tfjs-layers', () => importFromCwd('@tensorflow/tfjs-layers')],
    ['@tensorflow/tfjs', () => importFromCwd('@tensorflow/tfjs')],
  ];
  for (const [source, attempt] of attempts) {
    try {
      await attempt();
    } catch {
      /* not loadable here: try the next */
    }
    if (hasRealGradients()) {
      if (source === '@tensorflow/tfjs-core') {
        // Tensor methods such as x.square(): only where tfjs-core's ES modules load, as above.
        await import('@tensorflow/tfjs-core/dist/public/chained_ops/register_all_chained_ops.js').catch(
          () => undefined,
        );
      }
      return source;
    }
  }
  registerStandIns();
  return 'unavailable';
}

async function activate(name: ConcreteBackend, opts: InitBackendOptions): Promise<void> {
  await registerGradients();
  await loadBackend(name, opts);
  const ok = await tf.setBackend(name);
  if (!ok) throw new Error(`initBackend('${name}'): tfjs could not start the '${name}' backend`);
  await tf.ready();
}

const OPTION_KEYS = ['wasmPaths', 'allowSoftwareWebGPU', 'requireGradients', 'fastMatMul'] as const;

/**
 * Starts a tfjs backend and makes it current, and registers tfjs's gradients (see
 * `BackendInfo.gradients`). `'auto'` picks tfjs-node when installed, else a hardware WebGPU
 * adapter, else WebGL (browsers), else wasm, else cpu. Returns what was chosen and why, with the
 * WebGPU adapter when one is used.
 */
export async function initBackend(name: BackendName = 'auto', options?: InitBackendOptions): Promise<BackendInfo> {
  if (!VALID.includes(name)) {
    throw new Error(
      `initBackend: backend must be one of ${VALID.map((v) => `'${v}'`).join(', ')}, got ${describeValue(name)}`,
    );
  }
  const opts = checkOptions('initBackend', options, OPTION_KEYS);
  if (opts.wasmPaths !== undefined && (typeof opts.wasmPaths !== 'string' || opts.wasmPaths === '')) {
    throw new TypeError(`initBackend: wasmPaths must be a non-empty string, got ${describeValue(opts.wasmPaths)}`);
  }
  if (opts.allowSoftwareWebGPU !== undefined)
    checkBoolean('initBackend: allowSoftwareWebGPU', opts.allowSoftwareWebGPU);
  if (opts.requireGradients !== undefined) checkBoolean('initBackend: requireGradients', opts.requireGradients);
  if (opts.fastMatMul !== undefined) checkBoolean('initBackend: fastMatMul', opts.fastMatMul);
  const started = await start(name, opts);
  if (started.backend === 'wasm') {
    if (opts.fastMatMul === false) uninstallWasmMatMul();
    else installWasmMatMul();
  }
  const gradients = await registerGradients();
  if (gradients === 'unavailable' && opts.requireGradients) {
    throw new Error(missingGradientsMessage(`initBackend('${name}', { requireGradients: true })`));
  }
  return { ...started, gradients };
}

async function start(name: BackendName, options: InitBackendOptions): Promise<Omit<BackendInfo, 'gradients'>> {
  if (name === 'webgpu') {
    const adapter = await getWebGPUAdapterInfo();
    if (!adapter) {
      throw new Error(
        "initBackend('webgpu'): no WebGPU adapter was found (in Node: the 'webgpu' package and a Vulkan driver, e.g. Debian's mesa-vulkan-drivers and libvulkan1); use initBackend('wasm') or initBackend('auto') instead",
      );
    }
    await activate('webgpu', options);
    return { backend: 'webgpu', requested: name, reason: 'requested', adapter };
  }
  if (name !== 'auto') {
    try {
      await activate(name, options);
    } catch (e) {
      const msg = e instanceof Error ? e.message : String(e);
      throw new Error(
        `initBackend('${name}'): could not start it (${msg}); install its package (@tensorflow/tfjs-backend-${name === 'tensorflow' ? 'node' : name}) or use 'auto'`,
        { cause: e },
      );
    }
    return { backend: name, requested: name, reason: 'requested' };
  }
  const skipped: string[] = [];
  if (isNode) {
    try {
      await activate('tensorflow', options);
      return { backend: 'tensorflow', requested: name, reason: '@tensorflow/tfjs-node is installed' };
    } catch {
      skipped.push('tfjs-node not installed');
    }
  }
  const adapter = await getWebGPUAdapterInfo();
  if (adapter && (!adapter.isSoftware || options.allowSoftwareWebGPU)) {
    try {
      await activate('webgpu', options);
      return {
        backend: 'webgpu',
        requested: name,
        reason: `WebGPU adapter ${adapter.vendor} ${adapter.device || adapter.architecture}`.trim(),
        adapter,
      };
    } catch (e) {
      skipped.push(`webgpu failed: ${e instanceof Error ? e.message : String(e)}`);
    }
  } else {
    skipped.push(adapter ? 'only a software WebGPU adapter' : 'no WebGPU adapter');
  }
  const rest: ConcreteBackend[] = isNode ? ['wasm', 'cpu'] : ['webgl', 'wasm', 'cpu'];
  for (const b of rest) {
    try {
      await activate(b, options);
      return { backend: b, requested: name, reason: `fastest available (${skipped.join('; ')})` };
    } catch (e) {
      skipped.push(`${b} failed: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  throw new Error(`initBackend('auto'): no backend could start (${skipped.join('; ')})`);
}

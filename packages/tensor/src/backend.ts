import * as tf from '@tensorflow/tfjs-core';

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
}

/** Options of `initBackend`. */
export interface InitBackendOptions {
  /** Folder or URL prefix holding the tfjs wasm binaries; found automatically in Node. */
  wasmPaths?: string;
  /** In `'auto'`, accept a software WebGPU adapter (off by default: it is slower than wasm). */
  allowSoftwareWebGPU?: boolean;
}

const VALID: readonly BackendName[] = ['auto', 'cpu', 'wasm', 'webgpu', 'webgl', 'tensorflow'];

const isNode =
  typeof process !== 'undefined' && typeof process.versions === 'object' && !!process.versions.node;

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
        | ((flags: string[]) => GpuLike)
        | undefined;
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
  let adapter: Record<string, unknown> | null = null;
  try {
    adapter = (await gpu.requestAdapter({ powerPreference: 'high-performance' })) as Record<
      string,
      unknown
    > | null;
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

let opsRegistered: Promise<void> | undefined;

/**
 * tfjs-core alone registers no gradients (the `@tensorflow/tfjs` bundle and tfjs-layers do).
 * Register them so training works with tfjs-core alone: from tfjs-core's ES modules where a
 * bundler or test runner loads them, else through tfjs-layers or @tensorflow/tfjs when
 * installed (plain Node cannot load tfjs-core's ES module files).
 */
function registerGradients(): Promise<void> {
  opsRegistered ??= (async () => {
    const attempts: (() => Promise<unknown>)[] = [
      () => import('@tensorflow/tfjs-core/dist/register_all_gradients'),
      () => import('@tensorflow/tfjs-core/dist/public/chained_ops/register_all_chained_ops'),
      () => optionalImport('@tensorflow/tfjs-layers'),
      () => optionalImport('@tensorflow/tfjs'),
    ];
    for (const attempt of attempts) {
      if (tf.getGradient('RealDiv') && tf.getGradient('MatMul')) return;
      try {
        await attempt();
      } catch {
        /* not loadable here: try the next */
      }
    }
  })();
  return opsRegistered;
}

async function activate(name: ConcreteBackend, opts: InitBackendOptions): Promise<void> {
  await registerGradients();
  await loadBackend(name, opts);
  const ok = await tf.setBackend(name);
  if (!ok) throw new Error(`initBackend('${name}'): tfjs could not start the '${name}' backend`);
  await tf.ready();
}

/**
 * Starts a tfjs backend and makes it current. `'auto'` picks tfjs-node when installed, else a
 * hardware WebGPU adapter, else WebGL (browsers), else wasm, else cpu. Returns what was chosen
 * and why, with the WebGPU adapter when one is used.
 */
export async function initBackend(
  name: BackendName = 'auto',
  options: InitBackendOptions = {},
): Promise<BackendInfo> {
  if (!VALID.includes(name)) {
    throw new Error(
      `initBackend: backend must be one of ${VALID.map((v) => `'${v}'`).join(', ')}, got ${JSON.stringify(name)}`,
    );
  }
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

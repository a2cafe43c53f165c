import { getWebGPUAdapterInfo } from './backend.js';
import { checkOptions, describeValue } from './options.js';

/** gpu.js modes `createGpuKernel` can build for; `'best'` tries them in this order. */
export type GpuKernelMode = 'best' | 'webgpu' | 'webgl2' | 'webgl' | 'headlessgl' | 'webasm' | 'cpu';

/** Options of `createGpuKernel`: the output size, the mode, and any gpu.js kernel setting. */
export interface GpuKernelOptions {
  /** Output dimensions, e.g. `[n]` or `[cols, rows]` (gpu.js order: x first). */
  output: number[];
  /** Which mode to build; `'best'` (default) picks the fastest one available. */
  mode?: GpuKernelMode;
  /** Other gpu.js kernel settings (`constants`, `loopMaxIterations`, `tactic`, ...). */
  settings?: Record<string, unknown>;
}

/** A built gpu.js kernel: `run` always returns a promise; `mode` says which mode runs it. */
export interface GpuKernel<R = Float32Array> {
  run(...args: unknown[]): Promise<R>;
  mode: Exclude<GpuKernelMode, 'best'>;
  destroy(): void;
}

type GpuClass = {
  new (settings: { mode: string }): {
    createKernel(
      fn: unknown,
      settings?: object,
    ): {
      setOutput(o: number[]): unknown;
      kernel?: { constructor?: { mode?: string } };
      (...args: unknown[]): unknown;
    };
    destroy(): unknown;
  };
  isWebGL2Supported?: boolean;
  isWebGLSupported?: boolean;
  isHeadlessGLSupported?: boolean;
  isWebAssemblySupported?: boolean;
};

async function loadGpu(): Promise<GpuClass> {
  const spec = 'gpu.js';
  const mod = (await import(/* @vite-ignore */ spec)) as { GPU?: GpuClass; default?: { GPU?: GpuClass } };
  const GPU = mod.GPU ?? mod.default?.GPU;
  if (!GPU) throw new Error("createGpuKernel: the 'gpu.js' package could not be loaded; install gpu.js");
  return GPU;
}

async function available(GPU: GpuClass): Promise<Exclude<GpuKernelMode, 'best'>[]> {
  const modes: Exclude<GpuKernelMode, 'best'>[] = [];
  if (await getWebGPUAdapterInfo()) modes.push('webgpu');
  if (GPU.isWebGL2Supported) modes.push('webgl2');
  if (GPU.isWebGLSupported) modes.push('webgl');
  if (GPU.isHeadlessGLSupported) modes.push('headlessgl');
  if (GPU.isWebAssemblySupported !== false) modes.push('webasm');
  modes.push('cpu');
  return modes;
}

/** The gpu.js modes this machine can run, fastest first. */
export async function availableGpuKernelModes(): Promise<Exclude<GpuKernelMode, 'best'>[]> {
  return available(await loadGpu());
}

const MODES: GpuKernelMode[] = ['best', 'webgpu', 'webgl2', 'webgl', 'headlessgl', 'webasm', 'cpu'];

/**
 * Builds a gpu.js kernel from `fn` (a gpu.js kernel function using `this.thread`) in the best
 * mode available, or the one asked for, and says which mode it got.
 */
export async function createGpuKernel<R = Float32Array>(
  fn: (...args: never[]) => unknown,
  options: GpuKernelOptions,
): Promise<GpuKernel<R>> {
  if (typeof fn !== 'function') throw new Error(`createGpuKernel: fn must be a function, got ${typeof fn}`);
  if (options === undefined) throw new TypeError('createGpuKernel: options with an `output` size are required');
  const {
    output,
    mode = 'best',
    settings = {},
  } = checkOptions('createGpuKernel', options, ['output', 'mode', 'settings']);
  if (typeof settings !== 'object' || settings === null || Array.isArray(settings)) {
    throw new TypeError(
      `createGpuKernel: settings must be an object of gpu.js kernel settings, got ${describeValue(settings)}`,
    );
  }
  if (
    !Array.isArray(output) ||
    output.length < 1 ||
    output.length > 3 ||
    !output.every((d) => Number.isInteger(d) && d > 0)
  ) {
    throw new Error(`createGpuKernel: output must be 1 to 3 positive integers, got ${JSON.stringify(output)}`);
  }
  if (!MODES.includes(mode)) {
    throw new Error(`createGpuKernel: mode must be one of ${MODES.join(', ')}, got ${JSON.stringify(mode)}`);
  }
  const GPU = await loadGpu();
  const modes = await available(GPU);
  if (mode !== 'best' && !modes.includes(mode)) {
    throw new Error(`createGpuKernel: mode '${mode}' is not available here; available: ${modes.join(', ')}`);
  }
  const chosen = mode === 'best' ? modes[0]! : mode;
  const gpu = new GPU({ mode: chosen });
  const kernel = gpu.createKernel(fn, { ...settings, output });
  return {
    mode: chosen,
    run: async (...args) => (await kernel(...args)) as R,
    destroy: () => {
      gpu.destroy();
    },
  };
}

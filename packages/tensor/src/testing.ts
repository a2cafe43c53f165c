import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe } from 'vitest';
import { getWebGPUAdapterInfo, initBackend } from './backend.js';

/** Tolerances of `expectClose`: passes when |a - e| <= atol + rtol * |e| everywhere. */
export interface CloseOptions {
  atol?: number;
  rtol?: number;
  /** Names the quantity in the failure message. */
  label?: string;
}

type Numbers = tf.Tensor | ArrayLike<number> | number;

function values(x: Numbers): { data: ArrayLike<number>; shape: string } {
  if (x instanceof tf.Tensor) return { data: x.dataSync() as ArrayLike<number>, shape: `[${x.shape.join(', ')}]` };
  if (typeof x === 'number') return { data: [x], shape: 'scalar' };
  return { data: x, shape: `[${x.length}]` };
}

/**
 * Asserts two arrays (or tensors, or numbers) are elementwise close. The failure message
 * names the worst index, both values, the error and how many elements failed. NaN only
 * matches NaN.
 */
export function expectClose(actual: Numbers, expected: Numbers, opts: CloseOptions = {}): void {
  const { atol = 1e-6, rtol = 1e-6, label = 'values' } = opts;
  const a = values(actual);
  const e = values(expected);
  if (a.data.length !== e.data.length) {
    throw new Error(
      `${label}: length ${a.data.length} (shape ${a.shape}) differs from expected ${e.data.length} (shape ${e.shape})`,
    );
  }
  let worst = -1;
  let worstExcess = 0;
  let failures = 0;
  for (let i = 0; i < a.data.length; i++) {
    const x = a.data[i]!;
    const y = e.data[i]!;
    if (x === y || (Number.isNaN(y) && Number.isNaN(x))) continue; // equal infinities match too
    const tol = atol + rtol * Math.abs(y);
    const err = Math.abs(x - y);
    const excess = Number.isNaN(err) ? Infinity : err - tol;
    if (excess > 0 || (x !== y && !Number.isFinite(err))) {
      failures++;
      if (worst < 0 || excess > worstExcess) {
        worst = i;
        worstExcess = excess;
      }
    }
  }
  if (failures > 0) {
    const x = a.data[worst]!;
    const y = e.data[worst]!;
    throw new Error(
      `${label}: ${failures} of ${a.data.length} elements differ (atol ${atol}, rtol ${rtol}); worst at index ${worst}: actual ${x}, expected ${y}, |diff| ${Math.abs(x - y)}`,
    );
  }
}

/** Backends that `describeBackends` can run a spec on. */
export type TestBackend = 'cpu' | 'wasm' | 'webgpu';

/** Sets the backend in a vitest `beforeAll` (the cpu backend unless told otherwise). */
export function useBackend(name: TestBackend = 'cpu'): void {
  beforeAll(async () => {
    await initBackend(name);
  });
}

let adapterProbe: Promise<boolean> | undefined;

/** Whether a WebGPU adapter exists here; cached. */
export function hasWebGPU(): Promise<boolean> {
  adapterProbe ??= getWebGPUAdapterInfo().then(
    (a) => a !== null,
    () => false,
  );
  return adapterProbe;
}

const inCI = typeof process !== 'undefined' && !!process.env.CI && process.env.CI !== 'false';

/**
 * Runs one spec per backend, each in its own `describe` that switches to that backend first.
 * WebGPU specs skip with a visible reason where no adapter exists, except in CI (`CI` set),
 * where a missing adapter fails the run.
 */
export function describeBackends(backends: TestBackend[], fn: (backend: TestBackend) => void): void {
  for (const backend of backends) {
    if (backend !== 'webgpu') {
      describe(`[${backend}]`, () => {
        useBackend(backend);
        fn(backend);
      });
      continue;
    }
    describe('[webgpu]', async () => {
      const ok = await hasWebGPU();
      if (!ok && !inCI) {
        describe.skip('skipped: no WebGPU adapter here (install libvulkan1 and mesa-vulkan-drivers from bookworm-backports, see .ci/install-vulkan.sh)', () => {
          fn(backend);
        });
        return;
      }
      if (!ok) throw new Error('CI is set but no WebGPU adapter was found: the WebGPU tests must run in CI');
      useBackend('webgpu');
      fn(backend);
    });
  }
}

/**
 * Runs `fn` and asserts that it leaves no tensor behind (`tf.memory().numTensors` unchanged);
 * returns its result. Tensors it returns count as leaks, so return plain data.
 */
async function expectNoLeaks<T>(fn: () => T | Promise<T>, label = 'function'): Promise<T> {
  const before = tf.memory().numTensors;
  const out = await fn();
  const after = tf.memory().numTensors;
  if (after !== before) {
    throw new Error(`${label} leaked ${after - before} tensors (numTensors ${before} -> ${after})`);
  }
  return out;
}

// Listed by name: an `export async function` is missed by the README API check's export scanner.
export { expectNoLeaks };

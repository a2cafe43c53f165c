import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { assertGradients, getWebGPUAdapterInfo, initBackend, type BackendName } from './backend.js';
import { hasWebGPU } from './testing.js';

describe('initBackend', () => {
  it('names the valid choices for nonsense', async () => {
    await expect(initBackend('nonsense' as BackendName)).rejects.toThrow(
      "initBackend: backend must be one of 'auto', 'cpu', 'wasm', 'webgpu', 'webgl', 'tensorflow', got \"nonsense\"",
    );
  });
  it('refuses unknown and mistyped options, naming them', async () => {
    await expect(initBackend('cpu', { wasmPath: '/x' } as never)).rejects.toThrow(/wasmPath.*wasmPaths/);
    await expect(initBackend('cpu', null as never)).rejects.toThrow('initBackend: options must be an object, got null');
    await expect(initBackend('cpu', { requireGradients: 'yes' } as never)).rejects.toThrow(
      'initBackend: requireGradients must be true or false, got "yes"',
    );
    await expect(initBackend('wasm', { wasmPaths: 5 } as never)).rejects.toThrow(
      /wasmPaths must be a non-empty string, got 5/,
    );
  });
  it('says where the gradients came from (tfjs-core itself under vitest, which loads its ES modules)', async () => {
    const info = await initBackend('cpu', { requireGradients: true });
    expect(['preloaded', '@tensorflow/tfjs-core']).toContain(info.gradients);
    expect(() => assertGradients('training')).not.toThrow();
  });
  it('starts cpu and wasm, finding the wasm binaries by itself', async () => {
    expect((await initBackend('cpu')).backend).toBe('cpu');
    expect(tf.getBackend()).toBe('cpu');
    const info = await initBackend('wasm');
    expect(info).toMatchObject({ backend: 'wasm', requested: 'wasm' });
    expect(tf.getBackend()).toBe('wasm');
    // 2x2 matmul on wasm: [[1,2],[3,4]] @ [[5,6],[7,8]] = [[19,22],[43,50]]
    const y = tf.matMul(
      tf.tensor2d([
        [1, 2],
        [3, 4],
      ]),
      tf.tensor2d([
        [5, 6],
        [7, 8],
      ]),
    );
    expect(Array.from(await y.data())).toEqual([19, 22, 43, 50]);
  });
  it('registers the gradients tfjs-core lacks, so training works', async () => {
    await initBackend('cpu');
    // d/dx (x / 4)^2 = x / 8: at x = 2 that is 0.25 (needs RealDiv's and Square's gradients)
    const g = tf.grad((x: tf.Tensor) => tf.square(tf.div(x, 4)))(tf.scalar(2));
    expect(g.dataSync()[0]).toBeCloseTo(0.25, 7);
  });
  it("'auto' explains its choice", async () => {
    const info = await initBackend('auto');
    expect(['tensorflow', 'webgpu', 'wasm', 'cpu']).toContain(info.backend);
    expect(info.requested).toBe('auto');
    expect(info.reason.length).toBeGreaterThan(5);
    // Without tfjs-node and with only a software adapter, auto must settle on wasm.
    const adapter = await getWebGPUAdapterInfo();
    if (!adapter || adapter.isSoftware) expect(info.backend).toBe('wasm');
  });
  it('reports the WebGPU adapter, or says none exists', async () => {
    if (await hasWebGPU()) {
      const info = await initBackend('webgpu');
      expect(info.backend).toBe('webgpu');
      expect(info.adapter).toBeDefined();
      expect(typeof info.adapter!.isSoftware).toBe('boolean');
      await initBackend('cpu');
    } else {
      await expect(initBackend('webgpu')).rejects.toThrow(/no WebGPU adapter was found.*initBackend\('wasm'\)/);
    }
  });
});

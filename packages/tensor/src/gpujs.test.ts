import { describe, expect, it } from 'vitest';
import { availableGpuKernelModes, createGpuKernel } from './gpujs.js';

// y[i] = a[i] * b[i] + 1, written as a gpu.js kernel.
function fma(this: { thread: { x: number } }, a: number[], b: number[]): number {
  return a[this.thread.x]! * b[this.thread.x]! + 1;
}

const a = Array.from({ length: 64 }, (_, i) => i * 0.5);
const b = Array.from({ length: 64 }, (_, i) => 2 - i * 0.25);
const expected = a.map((x, i) => x * b[i]! + 1);

describe('createGpuKernel', async () => {
  const modes = await availableGpuKernelModes();
  it('lists cpu and webasm at least, fastest first', () => {
    expect(modes).toContain('cpu');
    expect(modes[modes.length - 1]).toBe('cpu');
  });
  for (const mode of modes) {
    it(`runs a kernel in ${mode} mode`, async () => {
      const k = await createGpuKernel(fma as never, { output: [64], mode });
      expect(k.mode).toBe(mode);
      const y = Array.from((await k.run(a, b)) as Float32Array);
      y.forEach((v, i) => expect(v).toBeCloseTo(expected[i]!, 5));
      k.destroy();
    });
  }
  it("'best' picks the first available mode", async () => {
    const k = await createGpuKernel(fma as never, { output: [64] });
    expect(k.mode).toBe(modes[0]);
    k.destroy();
  });
  it('rejects bad output sizes and unknown modes', async () => {
    await expect(createGpuKernel(fma as never, { output: [0] })).rejects.toThrow(
      'output must be 1 to 3 positive integers, got [0]',
    );
    await expect(createGpuKernel(fma as never, { output: [4], mode: 'quantum' as never })).rejects.toThrow(
      /mode must be one of best, webgpu/,
    );
  });
});

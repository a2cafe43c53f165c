import { describe, expect, it } from 'vitest';
import type { Result } from '../suite.js';
import { optimizersSuite } from './optimizers.js';

/** A step result as the suite records it. */
const step = (optimizer: string, ratio: number, kernel: string): Result => ({
  name: 'step',
  kind: 'step time',
  params: { optimizer, parameters: 1048576, backend: 'wasm', reps: 5, kernel },
  metrics: {
    stepMs: { value: 10 * ratio, unit: 'ms' },
    stepRatioVsTfjsAdam: { value: ratio, unit: '' },
    tfjsAdamMs: { value: 10, unit: 'ms' },
    stateBytes: { value: 2_130_000, unit: 'bytes' },
    stateBytesPerParam: { value: 2.03, unit: 'bytes' },
    stateRatioVsTfjsAdam: { value: 0.2539, unit: '' },
  },
});

describe('optimizers suite targets (issue 12)', () => {
  it('checks each optimizer against its own ratio to tf.train.adam and names the kernel it reported', () => {
    const checks = optimizersSuite.validate!(
      [
        step('tf.train.adam', 1, 'tfjs'),
        step('AdamW', 0.79, 'wasm-simd'),
        step('AdamW8bit', 0.51, 'wasm-simd'),
        step('LAMB', 1.49, 'wasm-simd'),
        step('LAMB8bit', 1.51, 'wasm-simd'),
        step('Lion', 1.01, 'js'),
        step('AdamW8bit(js kernel)', 5, 'js'),
      ],
      undefined as never,
    );
    const byName = (prefix: string) => checks.find((c) => c.name.startsWith(`${prefix} step`))!;
    // The thresholds of issue 12: AdamW 0.8x, AdamW8bit 0.5x, LAMB and LAMB8bit 1.5x, others 1.0x.
    expect(byName('AdamW').pass).toBe(true);
    expect(byName('AdamW').name).toContain('<= 0.8x');
    expect(byName('AdamW8bit').pass).toBe(false);
    expect(byName('LAMB').pass).toBe(true);
    expect(byName('LAMB8bit').pass).toBe(false);
    expect(byName('Lion').pass).toBe(false);
    expect(byName('Lion').detail).toContain('kernel js');
    // The baseline and the diagnostic JavaScript-kernel entry have no target.
    expect(
      checks.some((c) => c.name.startsWith('tf.train.adam step') || c.name.startsWith('AdamW8bit(js kernel)')),
    ).toBe(false);
  });

  it('puts the CPU-time ratio beside the wall-time one, which alone decides the Target', () => {
    const r = step('AdamW8bit', 0.45, 'wasm-simd');
    r.metrics.stepCpuRatioVsTfjsAdam = { value: 0.6, unit: '' };
    const [check] = optimizersSuite.validate!([r], undefined as never);
    expect(check!.pass).toBe(true);
    expect(check!.detail).toContain('0.45x (4.5 ms vs 10.0 ms; CPU-time ratio 0.60x, kernel wasm-simd)');
  });

  it("checks Muon's step against its Newton-Schulz matmuls alone", () => {
    const muon: Result = {
      name: 'muon',
      kind: 'muon',
      params: {
        optimizer: 'Muon',
        parameters: 65536,
        shapes: '4 x [128, 128]',
        backend: 'wasm',
        reps: 3,
        kernel: 'tfjs-ops',
      },
      metrics: {
        stepMs: { value: 160, unit: 'ms' },
        newtonSchulzMs: { value: 100, unit: 'ms' },
        stepRatioVsNewtonSchulz: { value: 1.6, unit: '' },
        newtonSchulzGflops: { value: 1.2, unit: 'GFLOP/s' },
        plainMatmulGflops: { value: 4.8, unit: 'GFLOP/s' },
        newtonSchulzVsPlainMatmul: { value: 0.25, unit: '' },
      },
    };
    const [check] = optimizersSuite.validate!([muon], undefined as never);
    expect(check!.name).toMatch(/Muon step <= 1.5x its Newton-Schulz matmuls alone/);
    expect(check!.pass).toBe(false);
    // The Newton-Schulz rate is put beside the plain matMul rate measured in the same rounds.
    expect(check!.detail).toContain("1.2 GFLOP/s = 25% of plain matMul's 4.8 GFLOP/s");
  });

  it('fails the digits checks when neither optimizer learns, even if they agree', () => {
    const digit = (optimizer: string, acc: number): Result => ({
      name: 'digits',
      kind: 'digits',
      params: { optimizer, epochs: 8, hidden: 256, batch: 64, backend: 'wasm' },
      metrics: {
        trainLoss: { value: 2.347, unit: 'nats' },
        heldOutLoss: { value: 2.35, unit: 'nats' },
        heldOutAccuracy: { value: acc, unit: '%' },
        stateBytes: { value: 1, unit: 'bytes' },
      },
    });
    const checks = optimizersSuite.validate!([digit('AdamW', 15.03), digit('AdamW8bit', 15.03)], undefined as never);
    expect(checks.find((c) => c.name.startsWith('digits: AdamW learns'))!.pass).toBe(false);
    const ok = optimizersSuite.validate!([digit('AdamW', 94.6), digit('AdamW8bit', 94.8)], undefined as never);
    expect(ok.every((c) => c.pass)).toBe(true);
  });

  it('promises 10M parameters only for --full', () => {
    expect(optimizersSuite.description).toMatch(/1M parameters; --full also 10M/);
  });
});

import { describe, expect, it } from 'vitest';
import type { Result } from '../suite.js';
import { attentionSuite } from './attention.js';

const ctx = {} as Parameters<NonNullable<typeof attentionSuite.validate>>[1];
const row = (impl: string, seqLen: number, target: number, sparsity: number, fwd: number, fb: number): Result => ({
  name: impl,
  params: { impl, seqLen, targetSparsity: target, sparsity },
  metrics: { forwardMs: { value: fwd, unit: 'ms' }, forwardBackwardMs: { value: fb, unit: 'ms' } },
});

describe('attention suite validate()', () => {
  it('passes when the targets hold and names the failures when they do not', () => {
    const good = [
      row('dense', 2048, 0, 0, 100, 300),
      row('blockSparse', 2048, 0, 0, 120, 250),
      row('blockSparse', 2048, 50, 50, 60, 125),
      row('blockSparse', 2048, 90, 90, 15, 30),
      row('blockSparse', 2048, 97, 97, 5, 9),
    ];
    const checks = attentionSuite.validate!(good, ctx);
    // forward and forward+backward: 90% speedup, 0% ratio, proportionality
    expect(checks).toHaveLength(6);
    expect(checks.every((c) => c.pass)).toBe(true);
    // 90% only 4x faster (100 / 25) and 0% at 2x dense: both forward checks fail
    const bad = good.map((r) => ({ ...r, metrics: { ...r.metrics } }));
    bad[3]!.metrics.forwardMs = { value: 25, unit: 'ms' };
    bad[1]!.metrics.forwardMs = { value: 200, unit: 'ms' };
    const failed = attentionSuite.validate!(bad, ctx).filter((c) => !c.pass).map((c) => c.name);
    expect(failed).toContain('forward: 90% block sparsity >= 5x faster than tfjs dense (seq 2048)');
    expect(failed).toContain('forward: 0% sparsity no slower than 1.5x tfjs dense (seq 2048)');
    // times that do not fall with sparsity fail the proportionality check (intercept ~1)
    const flat = good.map((r) => ({ ...r, metrics: { ...r.metrics, forwardMs: { value: 100, unit: 'ms' } } }));
    const flatFailed = attentionSuite.validate!(flat, ctx).filter((c) => !c.pass).map((c) => c.name);
    expect(flatFailed).toContain('forward: time falls in proportion to (1 - sparsity) (seq 2048)');
    expect(flatFailed).not.toContain('forward+backward: time falls in proportion to (1 - sparsity) (seq 2048)');
  });
});

import { describe, expect, it } from 'vitest';
import type { Result, SuiteContext } from '../suite.js';
import { flowSuite } from './flow.js';

function result(dataset: string, K: number, steps: number, flops: number, sw2: number, fd?: number): Result {
  const metrics: Result['metrics'] = { flopsPerSample: { value: flops, unit: 'FLOP' }, sw2: { value: sw2, unit: '' } };
  if (fd !== undefined) metrics.fd = { value: fd, unit: '' };
  return { name: `${dataset} K=${K} ${steps}`, params: { dataset, K, steps }, metrics };
}

const ctx = {} as SuiteContext;

describe('flow suite validate', () => {
  it('passes when a BFM run matches the single network with at most half its FLOPs', () => {
    const checks = flowSuite.validate!(
      [
        result('checkerboard', 1, 8, 1000, 0.2),
        result('checkerboard', 1, 16, 2000, 0.15),
        result('checkerboard', 2, 16, 900, 0.149),
        result('checkerboard', 4, 16, 1200, 0.1), // better, but over the 1000 FLOP budget
        result('digits', 1, 16, 4000, 0.12, 20),
        result('digits', 4, 16, 2100, 0.11, 15), // over budget
        result('digits', 4, 8, 1000, 0.2, 19),
      ],
      ctx,
    );
    expect(checks.map((c) => c.pass)).toEqual([true, false, true]);
    expect(checks[0]!.detail).toMatch(/sw2 0.1490 at 9.00e\+2 FLOP/);
    expect(checks[1]!.detail).toMatch(/digits K=4 8, sw2 0.2000/);
  });

  it('fails without single-network results or without BFM within the budget', () => {
    const checks = flowSuite.validate!([result('checkerboard', 2, 16, 900, 0.1), result('digits', 1, 16, 100, 0.1, 1), result('digits', 2, 16, 90, 0.1, 1)], ctx);
    expect(checks[0]!.pass).toBe(false);
    expect(checks[0]!.detail).toMatch(/no single-network results/);
    expect(checks[1]!.detail).toMatch(/no BFM configuration within that budget/);
  });
});

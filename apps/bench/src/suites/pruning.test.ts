import { describe, expect, it } from 'vitest';
import type { Result, SuiteContext } from '../suite.js';
import { pruningSuite } from './pruning.js';

const r = (method: string, density: number, accuracy: number, pattern = 'unstructured'): Result => ({
  name: `${method} ${density}`,
  params: { method, density, pattern },
  metrics: { accuracy: { value: accuracy, unit: '%' } },
});

describe('pruningSuite.validate', () => {
  const ctx = { quick: true } as SuiteContext;
  const base = [
    {
      name: 'dense',
      params: { method: 'dense', density: 1, pattern: 'dense' },
      metrics: { accuracy: { value: 99, unit: '%' }, suiteSeconds: { value: 30, unit: 's' } },
    },
    r('magnitude', 0.5, 97),
    r('wanda', 0.5, 98),
    r('icbs', 0.5, 98),
    r('magnitude', 0.2, 80),
    r('wanda', 0.2, 82),
    r('icbs', 0.2, 94),
    r('magnitude', 0.1, 20),
    r('wanda', 0.1, 21),
    r('icbs', 0.1, 24),
    // 2:4 rows at density 0.5 must not be mistaken for the unstructured ones.
    r('wanda', 0.5, 10, '2:4'),
    r('icbs', 0.5, 10, '2:4'),
  ];

  it('passes every target when they hold', () => {
    const checks = pruningSuite.validate!(base, ctx);
    expect(checks.length).toBe(8);
    expect(checks.filter((c) => !c.pass)).toEqual([]);
  });

  it('checks that iCBS reads do not grow with its steps', () => {
    const steps = (n: number, reads: number): Result => ({
      name: `icbs steps ${n}`,
      params: { method: 'icbs-steps', density: 0.1, pattern: 'unstructured', steps: n },
      metrics: { accuracy: { value: 50, unit: '%' }, hostReads: { value: reads, unit: '' } },
    });
    const ok = pruningSuite.validate!([...base, steps(0, 31), steps(50, 31)], ctx).find((c) =>
      c.name.startsWith('iCBS host reads'),
    )!;
    expect(ok).toMatchObject({ pass: true, detail: '0 steps: 31 reads, 50 steps: 31 reads' });
    expect(
      pruningSuite.validate!([...base, steps(0, 31), steps(50, 81)], ctx).find((c) =>
        c.name.startsWith('iCBS host reads'),
      )!.pass,
    ).toBe(false);
  });

  it('on a software WebGPU adapter the time target is not checked (its times measure nothing)', () => {
    const slow = [
      { ...base[0]!, metrics: { ...base[0]!.metrics, suiteSeconds: { value: 400, unit: 's' } } },
      ...base.slice(1),
    ];
    const checks = pruningSuite.validate!(slow, { quick: true, softwareAdapter: true } as SuiteContext);
    expect(checks.map((c) => c.name)).not.toContain('suite under two minutes with --quick');
    expect(checks.filter((c) => !c.pass)).toEqual([]);
  });

  it('fails the 3-point margin at 10% and a slow suite', () => {
    const res = base.map((x) => (x.params.method === 'icbs' && x.params.density === 0.1 ? r('icbs', 0.1, 23.5) : x));
    res[0] = { ...res[0]!, metrics: { ...res[0]!.metrics, suiteSeconds: { value: 130, unit: 's' } } };
    const failed = pruningSuite.validate!(res, ctx)
      .filter((c) => !c.pass)
      .map((c) => c.name);
    expect(failed).toEqual([
      'iCBS at least 3 points above Wanda at density 0.1',
      'suite under two minutes with --quick',
    ]);
  });
});

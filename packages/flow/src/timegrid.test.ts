import { describe, expect, it } from 'vitest';
import {
  checkTimeGrid,
  dynamicShiftMu,
  dynamicShiftTime,
  dynamicShiftTimeGrid,
  shiftTime,
  shiftTimeGrid,
  uniformTimeGrid,
} from './timegrid.js';

describe('time grids', () => {
  it('uniform grid hits its endpoints', () => {
    expect(uniformTimeGrid(4)).toEqual([0, 0.25, 0.5, 0.75, 1]);
    expect(uniformTimeGrid(2, 1, 0)).toEqual([1, 0.5, 0]);
  });
  it('static shift matches the diffusers formula', () => {
    // t = 0.5 -> sigma = 0.5 -> 3 * 0.5 / (1 + 2 * 0.5) = 0.75 -> t' = 0.25.
    expect(shiftTime(0.5, 3)).toBeCloseTo(0.25, 12);
    expect(shiftTime(0.5, 1)).toBe(0.5);
    const g = shiftTimeGrid(uniformTimeGrid(4), 3);
    expect(g[0]).toBe(0);
    expect(g[4]).toBe(1);
    for (let i = 1; i < g.length; i++) expect(g[i]).toBeGreaterThan(g[i - 1]!);
  });
  it('dynamic shift: mu is linear in sequence length, and power 1 equals the static shift exp(mu)', () => {
    expect(dynamicShiftMu(256)).toBeCloseTo(0.5, 12);
    expect(dynamicShiftMu(4096)).toBeCloseTo(1.15, 12);
    // Midpoint 2176: (0.5 + 1.15) / 2.
    expect(dynamicShiftMu(2176)).toBeCloseTo(0.825, 12);
    for (const t of [0, 0.1, 0.5, 0.9]) expect(dynamicShiftTime(t, Math.log(3))).toBeCloseTo(shiftTime(t, 3), 12);
    expect(dynamicShiftTimeGrid([0, 1], 0.7)).toEqual([0, 1]);
  });
  it('rejects non-monotone grids and bad shifts', () => {
    expect(() => checkTimeGrid([0, 0.5, 0.4, 1])).toThrow(/strictly monotone, got 0.5 then 0.4 at index 2/);
    expect(() => checkTimeGrid([0, 0])).toThrow(/strictly monotone/);
    expect(() => checkTimeGrid([0])).toThrow(/at least 2 times, got 1/);
    expect(() => checkTimeGrid([0, NaN])).toThrow(/timeGrid\[1\] must be a finite number, got NaN/);
    expect(() => shiftTime(0.5, 0)).toThrow(/shift must be a positive number, got 0/);
    expect(() => uniformTimeGrid(0)).toThrow(/uniformTimeGrid: steps must be an integer >= 1 <= 10000000, got 0/);
    // 1e10 times would exhaust memory: bounded with a clear error instead.
    expect(() => uniformTimeGrid(1e10)).toThrow(
      /uniformTimeGrid: steps must be an integer >= 1 <= 10000000, got 10000000000/,
    );
    expect(() => dynamicShiftMu(256, { baseshift: 1 } as never)).toThrow(
      /dynamicShiftMu: unknown option "baseshift"; did you mean "baseShift"\?/,
    );
  });
});

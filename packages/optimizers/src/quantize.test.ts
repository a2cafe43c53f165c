import { describe, expect, it } from 'vitest';
import { createRng } from '@blockwise/tensor';
import { createDynamicMap } from './dynamicMap.js';
import { dequantizeBlockwise, nearestCode, quantizeBlockwise } from './quantize.js';
import { BNB_SIGNED_MAP } from './fixtures/bnbSignedMap.js';

describe('createDynamicMap', () => {
  it('matches bitsandbytes create_dynamic_map() bit for bit', () => {
    const map = createDynamicMap(true);
    expect(map.length).toBe(256);
    for (let i = 0; i < 256; i++) expect(map[i]).toBe(Math.fround(BNB_SIGNED_MAP[i]!));
  });

  it('unsigned map: 256 sorted values from 0 to 1, hand-derived ends', () => {
    const u = createDynamicMap(false);
    expect(u.length).toBe(256);
    for (let i = 1; i < 256; i++) expect(u[i]!).toBeGreaterThanOrEqual(u[i - 1]!);
    expect(u[0]).toBe(0);
    expect(u[255]).toBe(1);
    // Largest fraction group: i = 6 has 2^(6+1)+1 = 129 boundaries in [0.1, 1]; the last midpoint
    // is (1 - 0.9/128/2) = 0.996484375, rounded to float32.
    expect(u[254]).toBeCloseTo(0.996484375, 6);
    // Smallest: i = 0, 3 boundaries 0.1, 0.55, 1 -> first midpoint 0.325, times 1e-6.
    expect(u[1]).toBeCloseTo(3.25e-7, 12);
  });

  it('signed map spans -0.99296875 .. 1 with a single zero', () => {
    const s = createDynamicMap(true);
    expect(s[0]).toBeCloseTo(-0.99296875, 7);
    expect(s[255]).toBe(1);
    expect(s.filter((v) => v === 0).length).toBe(1);
  });

  it('smaller maps are padded with zeros to 256 values', () => {
    const m = createDynamicMap(true, 3, 4);
    expect(m.length).toBe(256);
    expect(new Set(m).size).toBe(16);
  });

  it('rejects bad arguments', () => {
    expect(() => createDynamicMap(true, 9)).toThrow(/maxExponentBits/);
    expect(() => createDynamicMap(true, 7, 9)).toThrow(/totalBits/);
  });
});

describe('nearestCode', () => {
  it('agrees with a linear scan for the nearest value', () => {
    const map = createDynamicMap(true);
    const rng = createRng(3);
    for (let k = 0; k < 2000; k++) {
      const x = Math.fround(rng.uniform(-1.1, 1.1) * (k % 3 === 0 ? 1e-3 : 1));
      let best = 0;
      for (let i = 1; i < 256; i++) if (Math.abs(map[i]! - x) < Math.abs(map[best]! - x)) best = i;
      const got = nearestCode(map, x);
      expect(Math.abs(map[got]! - x)).toBe(Math.abs(map[best]! - x));
    }
  });
});

describe('quantizeBlockwise', () => {
  it('meets bitsandbytes error bounds on a 1024x1024 standard normal (block 256)', () => {
    const x = createRng(0).fillNormal(new Float32Array(1024 * 1024));
    const q = quantizeBlockwise(x, { blockSize: 256 });
    expect(q.absmax.length).toBe(4096);
    const y = dequantizeBlockwise(q, { blockSize: 256 });
    let abs = 0;
    let rel = 0;
    for (let i = 0; i < x.length; i++) {
      const d = Math.abs(x[i]! - y[i]!);
      abs += d;
      rel += d / (Math.abs(x[i]!) + 1e-8);
    }
    // bitsandbytes test_dynamic_blockwise_quantization bounds: diff < 0.011, reldiff < 0.018.
    expect(abs / x.length).toBeLessThan(0.011);
    expect(rel / x.length).toBeLessThan(0.018);
  });

  it('keeps each block max exactly and handles a short last block and zeros', () => {
    const x = new Float32Array(300);
    x[5] = -2;
    x[299] = 0.5;
    const q = quantizeBlockwise(x, { blockSize: 256 });
    expect(Array.from(q.absmax)).toEqual([2, 0.5]);
    const y = dequantizeBlockwise(q, { blockSize: 256 });
    expect(y[299]).toBe(0.5);
    expect(y[0]).toBe(0);
    // -1 is not in the signed map: the nearest entry is -0.99296875 of the block max 2.
    expect(y[5]).toBeCloseTo(-2 * 0.99296875, 6);
  });

  it('rejects bad block sizes and non-finite input', () => {
    expect(() => quantizeBlockwise(new Float32Array(4), { blockSize: 48 })).toThrow(
      /blockSize must be a positive multiple of 32 up to 65536, got 48/,
    );
    expect(() => quantizeBlockwise(Float32Array.of(1, NaN))).toThrow(/finite/);
    expect(() => dequantizeBlockwise({ codes: new Uint8Array(512), absmax: new Float32Array(1) })).toThrow(/absmax/);
  });
});

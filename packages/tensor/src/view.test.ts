import { describe, expect, it } from 'vitest';
import { fromView, packUint8, toView, toViewSync, unpackUint8, unpackUint8Sync, view } from './view.js';
import { useBackend } from './testing.js';

useBackend('cpu');

describe('typed views', () => {
  it('round-trips a float tensor through a view', async () => {
    const v = view(Float32Array.from([1, 2, 3, 4, 5, 6]), [2, 3]);
    const t = fromView(v);
    expect(t.dtype).toBe('float32');
    expect(t.shape).toEqual([2, 3]);
    const back = await toView(t);
    expect(Array.from(back.data)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(toViewSync(t).shape).toEqual([2, 3]);
    t.dispose();
  });
  it('keeps int32 as int32', () => {
    const t = fromView(view(Int32Array.from([-1, 7]), [2]));
    expect(t.dtype).toBe('int32');
    expect(Array.from(t.dataSync())).toEqual([-1, 7]);
    t.dispose();
  });
  it('names data length and shape when they disagree', () => {
    expect(() => view(new Float32Array(5), [2, 3])).toThrow('data has 5 elements but shape [2, 3] needs 6');
  });
});

describe('uint8 storage', () => {
  it('packs four bytes per int32, little-endian, and reads them back', async () => {
    const bytes = Uint8Array.from([0, 1, 127, 128, 255, 3, 200]);
    const t = packUint8(bytes);
    expect(t.dtype).toBe('int32');
    expect(t.shape).toEqual([2]);
    // word 0 = 0 | 1<<8 | 127<<16 | 128<<24 = 0x807f0100, read as int32: 0x807f0100 - 2^32
    expect(t.dataSync()[0]).toBe(0x807f0100 - 2 ** 32);
    expect(Array.from(await unpackUint8(t, 7))).toEqual(Array.from(bytes));
    expect(Array.from(unpackUint8Sync(t, 7))).toEqual(Array.from(bytes));
    expect(() => unpackUint8Sync(t, 9)).toThrow('length must be an integer in [0, 8], got 9');
    t.dispose();
  });
});

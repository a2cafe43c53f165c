import { describe, expect, it } from 'vitest';
import { createRng } from '@blockwise/tensor';
import { createDynamicMap } from './dynamicMap.js';
import { codeTable, nearestCodeFast } from './fastQuantize.js';
import { nearestCode } from './quantize.js';

describe('nearestCodeFast', () => {
  for (const signed of [true, false]) {
    it(`returns nearestCode's answer on the ${signed ? 'signed' : 'unsigned'} map, including exact entries and midpoints`, () => {
      const map = createDynamicMap(signed);
      const t = codeTable(map);
      const rng = createRng(signed ? 1 : 2);
      const xs: number[] = [];
      for (let k = 0; k < 20000; k++) xs.push(Math.fround(rng.uniform(signed ? -1 : 0, 1) * 10 ** -rng.int(7)));
      for (let k = 0; k < 255; k++) xs.push(map[k]!, Math.fround((map[k]! + map[k + 1]!) / 2), Math.fround(-map[k]!));
      xs.push(0, 1, -1, 1e-30, -1e-30);
      for (const x of xs) expect(nearestCodeFast(t, x), `x = ${x}`).toBe(nearestCode(map, x));
    });
  }
});

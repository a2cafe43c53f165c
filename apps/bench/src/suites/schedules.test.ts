import { initBackend } from '@blockwise/tensor';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { benchData } from '../data.js';
import type { Chart, SuiteContext } from '../suite.js';
import { schedulesSuite } from './schedules.js';

describe('schedules suite (quick)', () => {
  beforeAll(async () => {
    await initBackend('wasm');
  });
  it('trains every schedule at both budgets, forecasts, and meets its checks without leaking tensors', async () => {
    const charts: Chart[] = [];
    const ctx: SuiteContext = {
      backend: tf.getBackend(),
      quick: true,
      full: false,
      seed: 1,
      progress: () => {},
      log: () => {},
      chart: (c) => charts.push(c),
      writeFile: () => '',
      image: () => '',
      data: benchData,
    };
    const before = tf.memory().numTensors;
    const results = await schedulesSuite.run(ctx);
    expect(tf.memory().numTensors).toBe(before);
    expect(results.filter((r) => r.params.schedule !== undefined)).toHaveLength(10);
    expect(charts.map((c) => c.id).sort()).toEqual(['schedules-forecast', 'schedules-lr']);
    for (const check of schedulesSuite.validate!(results, ctx))
      expect(check.pass, `${check.name}: ${check.detail}`).toBe(true);
  });
});

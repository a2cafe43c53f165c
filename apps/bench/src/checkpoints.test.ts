import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadCheckpoint, saveCheckpoint, checkpointPath } from './checkpoints.js';

describe('checkpoints', () => {
  it('round-trips named tensors and meta bit for bit', async () => {
    await tf.setBackend('cpu');
    const dir = mkdtempSync(join(tmpdir(), 'ckpt-'));
    const w = tf.tensor2d([
      [1.5, -2],
      [3e-8, 4e30],
    ]);
    const b = tf.tensor1d([0.1, 0.2, 0.3]);
    await saveCheckpoint('test', { 'layer/w': w, 'layer/b': b }, { command: 'x', seed: 7, width: 3 }, dir);
    const { tensors, meta } = loadCheckpoint('test', dir);
    expect(meta).toEqual({ command: 'x', seed: 7, width: 3 });
    expect(tensors['layer/w']!.shape).toEqual([2, 2]);
    expect(Array.from(tensors['layer/w']!.dataSync())).toEqual(Array.from(w.dataSync()));
    expect(Array.from(tensors['layer/b']!.dataSync())).toEqual(Array.from(b.dataSync()));
    tf.dispose([w, b, ...Object.values(tensors)]);
  });
  it('names the file when a checkpoint is missing, malformed or truncated', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ckpt-'));
    expect(() => loadCheckpoint('nope', dir)).toThrow(/not found: .*model\.json does not exist/);
    writeFileSync(join(dir, 'model.json'), '{not json');
    expect(() => loadCheckpoint('bad', dir)).toThrow(/model\.json: not valid JSON/);
    const t = tf.zeros([4]);
    await saveCheckpoint('t', { t }, { command: 'x', seed: 1 }, dir);
    writeFileSync(join(dir, 'weights.bin'), new Uint8Array(8));
    expect(() => loadCheckpoint('t', dir)).toThrow(/weights hold 8 bytes, the manifest describes 16/);
    t.dispose();
    expect(() => checkpointPath('../etc')).toThrow(/checkpoint name/);
  });
});

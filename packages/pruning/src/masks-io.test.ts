import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { describe, expect, it } from 'vitest';
import { useBackend } from '@blockwise/tensor/testing';
import { attachMasks, decodeMasks, encodeMasks, masksFromJSON, masksFromModel, masksToJSON } from './masks-io.js';
import { smallModel } from './modeltest.js';
import { pruneMagnitude } from './prune-methods.js';

useBackend('cpu');

describe('mask serialization', () => {
  const masks = {
    a: { shape: [3, 3] as [number, number], mask: Uint8Array.from([1, 0, 1, 1, 1, 0, 0, 0, 1]) },
    b: { shape: [1, 2] as [number, number], mask: Uint8Array.from([0, 1]) },
  };

  it('packs one bit per weight, LSB first, layers back to back', async () => {
    const { spec, data } = encodeMasks(masks);
    // a: bits 0..8 = 1,0,1,1,1,0,0,0 | 1 ; b: bits 9..10 = 0,1 -> byte0 = 0b00011101 = 29, byte1 = 0b101 = 5.
    expect(Array.from(new Uint8Array(data))).toEqual([29, 5]);
    expect(spec.map((e) => e.bitOffset)).toEqual([0, 9]);
    expect(decodeMasks(spec, data)).toEqual(masks);
    expect(() => decodeMasks(spec, new ArrayBuffer(1))).toThrow(/holds 1 bytes, too few for layer 'a' \(bits 0..9\)/);
  });

  it('JSON round trip and bad JSON', async () => {
    expect(masksFromJSON(masksToJSON(masks))).toEqual(masks);
    expect(() => masksFromJSON('{"x":1}')).toThrow(/format 'blockwise-pruning-masks'/);
    expect(() => masksFromJSON('nope')).toThrow(/not JSON/);
  });

  it('issue 14: a damaged spec throws instead of decoding a shifted or all-zero mask', () => {
    const o = JSON.parse(masksToJSON(masks)) as { layers: { name: string; shape?: unknown; bitOffset: unknown }[] };
    const withLayer = (k: number, patch: Record<string, unknown>): string =>
      JSON.stringify({ ...o, layers: o.layers.map((e, i) => (i === k ? { ...e, ...patch } : e)) });
    // bitOffset 1 for 'a' used to decode a mask shifted by one bit (every weight moved).
    expect(() => masksFromJSON(withLayer(0, { bitOffset: 1 }))).toThrow(
      /spec\[0\]\.bitOffset \(layer 'a'\) must be 0 .*got 1/,
    );
    expect(() => masksFromJSON(withLayer(1, { bitOffset: 16 }))).toThrow(
      /spec\[1\]\.bitOffset \(layer 'b'\) must be 9 .*got 16/,
    );
    expect(() => masksFromJSON(withLayer(1, { bitOffset: -3 }))).toThrow(/bitOffset \(layer 'b'\) must be 9/);
    expect(() => masksFromJSON(withLayer(0, { bitOffset: '0' }))).toThrow(
      /bitOffset \(layer 'a'\) must be 0 .*got "0"/,
    );
    // A layer without shape used to throw a TypeError from inside the decoder.
    expect(() => masksFromJSON(withLayer(0, { shape: undefined }))).toThrow(
      /spec\[0\]\.shape \(layer 'a'\) must be \[inDim, outDim\], got undefined/,
    );
    expect(() => masksFromJSON(withLayer(1, { name: 'a' }))).toThrow(/name 'a' appears twice/);
    expect(() => decodeMasks(encodeMasks(masks).spec, new ArrayBuffer(5))).toThrow(
      /holds 5 bytes, the spec's 11 bits need exactly 2/,
    );
    expect(() => encodeMasks({ a: { shape: [1, 2], mask: Uint8Array.of(1, 2) } })).toThrow(
      /masks\['a'\]\.mask must hold only 0 and 1, got 2/,
    );
  });

  it('masks travel with the model through save and load', async () => {
    const { model, x } = smallModel();
    const r = await pruneMagnitude(model, { density: 0.3 });
    attachMasks(model, r.masks);
    let saved: tf.io.ModelArtifacts | undefined;
    await model.save(
      tf.io.withSaveHandler(async (a) => {
        saved = a;
        return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
      }),
    );
    const loaded = await tfl.loadLayersModel(tf.io.fromMemory(saved!));
    expect(masksFromModel(loaded)).toEqual(r.masks);
    expect(masksFromModel(smallModel().model)).toBeNull();
    x.dispose();
  });
});

import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { describe, expect, it } from 'vitest';
import { useBackend } from '@blockwise/tensor/testing';
import { attachMasks, decodeMasks, encodeMasks, masksFromJSON, masksFromModel, masksToJSON } from './masks-io.js';
import { smallModel } from './modeltest.js';
import { pruneMagnitude } from './prune-methods.js';

useBackend('cpu');

describe('mask serialization', () => {
  const masks = { a: { shape: [3, 3] as [number, number], mask: Uint8Array.from([1, 0, 1, 1, 1, 0, 0, 0, 1]) }, b: { shape: [1, 2] as [number, number], mask: Uint8Array.from([0, 1]) } };

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

  it('masks travel with the model through save and load', async () => {
    const { model, x } = smallModel();
    const r = await pruneMagnitude(model, { density: 0.3 });
    attachMasks(model, r.masks);
    let saved: tf.io.ModelArtifacts | undefined;
    await model.save(tf.io.withSaveHandler(async (a) => {
      saved = a;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }));
    const loaded = await tfl.loadLayersModel(tf.io.fromMemory(saved!));
    expect(masksFromModel(loaded)).toEqual(r.masks);
    expect(masksFromModel(smallModel().model)).toBeNull();
    x.dispose();
  });
});

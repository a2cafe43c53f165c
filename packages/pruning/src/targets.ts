import * as tf from '@tensorflow/tfjs-core';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { describe } from './matrix.js';

/** Which layers to prune: names, one name, or a pattern tested against layer names. Default: every Dense layer. */
export type LayerSelector = string | string[] | RegExp;

/** A prunable layer: a Dense kernel `[inDim, outDim]` (the first weight of the layer). */
export interface TargetLayer {
  name: string;
  /** The tfjs layer (a Dense layer). */
  layer: ReturnType<LayersModel['getLayer']>;
  inDim: number;
  outDim: number;
}

/**
 * Resolves the Dense layers of a model to prune, in model order. Throws when a name or pattern
 * matches no Dense layer, or a named layer is not Dense.
 */
export function resolveTargets(model: LayersModel, layers?: LayerSelector): TargetLayer[] {
  if (model === null || typeof model !== 'object' || !Array.isArray((model as { layers?: unknown }).layers)) {
    throw new Error(`model must be a tf.LayersModel, got ${describe(model)}`);
  }
  const dense = model.layers.filter((l) => l.getClassName() === 'Dense');
  const names = dense.map((l) => l.name);
  const list = `Dense layers of this model: ${names.length ? names.join(', ') : '(none)'}`;
  let chosen: typeof dense;
  if (layers === undefined) {
    chosen = dense;
    if (chosen.length === 0) throw new Error(`layers: the model has no Dense layer to prune`);
  } else if (layers instanceof RegExp) {
    chosen = dense.filter((l) => layers.test(l.name));
    if (chosen.length === 0) throw new Error(`layers: pattern ${layers} matches no Dense layer; ${list}`);
  } else {
    const want = typeof layers === 'string' ? [layers] : layers;
    if (!Array.isArray(want) || want.length === 0 || want.some((n) => typeof n !== 'string')) {
      throw new Error(`layers must be a layer name, a non-empty array of names or a RegExp, got ${describe(layers)}`);
    }
    for (const n of want) {
      if (!names.includes(n)) {
        const other = model.layers.find((l) => l.name === n);
        throw new Error(other ? `layers: '${n}' is a ${other.getClassName()} layer, not Dense; ${list}` : `layers: no layer named '${n}'; ${list}`);
      }
    }
    chosen = dense.filter((l) => want.includes(l.name));
  }
  return chosen.map((layer) => {
    const kernel = layer.getWeights()[0];
    if (!kernel || kernel.shape.length !== 2) throw new Error(`layers: '${layer.name}' has no built 2-D kernel (build the model first)`);
    return { name: layer.name, layer, inDim: kernel.shape[0]!, outDim: kernel.shape[1]! };
  });
}

/** Reads a layer's kernel as a Float32Array `[inDim, outDim]`. @internal */
export function readKernel(t: TargetLayer): Float32Array {
  const k = t.layer.getWeights()[0]!;
  return Float32Array.from(k.dataSync() as Float32Array);
}

/** Writes a layer's kernel (keeps the other weights, e.g. the bias). @internal */
export function writeKernel(t: TargetLayer, data: Float32Array): void {
  const ws = t.layer.getWeights();
  const k = tf.tensor2d(data, [t.inDim, t.outDim], 'float32');
  t.layer.setWeights([k, ...ws.slice(1)]);
  k.dispose();
}

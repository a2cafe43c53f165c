import * as tf from '@tensorflow/tfjs-core';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { convGeometry, im2col, type ConvGeometry } from './conv.js';
import { describe } from './matrix.js';

/** Which layers to prune: names, one name, or a pattern tested against layer names. Default: every Dense and Conv2D layer. */
export type LayerSelector = string | string[] | RegExp;

/**
 * A prunable layer: a Dense kernel `[inDim, outDim]`, or a Conv2D kernel `[kh, kw, cin, cout]`
 * viewed as `[kh * kw * cin, cout]` (same memory order), whose inputs are the im2col patches.
 */
export interface TargetLayer {
  name: string;
  kind: 'dense' | 'conv2d';
  /** The tfjs layer. */
  layer: ReturnType<LayersModel['getLayer']>;
  inDim: number;
  outDim: number;
  /** The kernel's own shape. */
  kernelShape: number[];
  /** Convolution geometry (Conv2D only). */
  conv?: ConvGeometry;
  /** Input rows per sample (positions, for sequences or convolutions); null when unknown. */
  rowsPerSample: number | null;
}

const KINDS: Record<string, TargetLayer['kind']> = { Dense: 'dense', Conv2D: 'conv2d' };

/**
 * Resolves the Dense and Conv2D layers of a model to prune, in model order. Throws when a name or
 * pattern matches no such layer, or a named layer has another type.
 */
export function resolveTargets(model: LayersModel, layers?: LayerSelector): TargetLayer[] {
  if (model === null || typeof model !== 'object' || !Array.isArray((model as { layers?: unknown }).layers)) {
    throw new Error(`model must be a tf.LayersModel, got ${describe(model)}`);
  }
  const prunable = model.layers.filter((l) => KINDS[l.getClassName()] !== undefined);
  const names = prunable.map((l) => l.name);
  const list = `Dense or Conv2D layers of this model: ${names.length ? names.join(', ') : '(none)'}`;
  let chosen: typeof prunable;
  if (layers === undefined) {
    chosen = prunable;
    if (chosen.length === 0) throw new Error(`layers: the model has no Dense or Conv2D layer to prune`);
  } else if (layers instanceof RegExp) {
    chosen = prunable.filter((l) => layers.test(l.name));
    if (chosen.length === 0) throw new Error(`layers: pattern ${layers} matches no Dense or Conv2D layer; ${list}`);
  } else {
    const want = typeof layers === 'string' ? [layers] : layers;
    if (!Array.isArray(want) || want.length === 0 || want.some((n) => typeof n !== 'string')) {
      throw new Error(`layers must be a layer name, a non-empty array of names or a RegExp, got ${describe(layers)}`);
    }
    for (const n of want) {
      if (!names.includes(n)) {
        const other = model.layers.find((l) => l.name === n);
        throw new Error(
          other
            ? `layers: '${n}' is a ${other.getClassName()} layer, not Dense or Conv2D; ${list}`
            : `layers: no layer named '${n}'; ${list}`,
        );
      }
    }
    chosen = prunable.filter((l) => want.includes(l.name));
  }
  return chosen.map((layer) => {
    const kind = KINDS[layer.getClassName()]!;
    const kernel = layer.getWeights()[0];
    const rank = kind === 'dense' ? 2 : 4;
    if (!kernel || kernel.shape.length !== rank)
      throw new Error(`layers: '${layer.name}' has no built ${rank}-D kernel (build the model first)`);
    const ks = kernel.shape;
    const outDim = ks[ks.length - 1]!;
    const inDim = kernel.size / outDim;
    const positions = (shape: unknown): number | null => {
      const s = shape as (number | null)[];
      if (!Array.isArray(s) || s.length < 2) return null;
      const mid = s.slice(1, -1);
      return mid.every((d) => typeof d === 'number') ? (mid as number[]).reduce((a, b) => a * b, 1) : null;
    };
    const t: TargetLayer = { name: layer.name, kind, layer, inDim, outDim, kernelShape: ks, rowsPerSample: null };
    const shapeOf = (get: () => unknown): unknown => {
      try {
        return (get() as { shape?: unknown }).shape;
      } catch {
        return null; // a layer used several times has no single input
      }
    };
    if (kind === 'conv2d') {
      t.conv = convGeometry(layer.getConfig() as Record<string, unknown>, layer.name);
      t.rowsPerSample = positions(shapeOf(() => layer.output));
    } else {
      t.rowsPerSample = positions(shapeOf(() => layer.input));
    }
    return t;
  });
}

/** Reads a layer's kernel as a Float32Array `[inDim, outDim]` (one asynchronous read). @internal */
export async function readKernel(t: TargetLayer): Promise<Float32Array> {
  const k = t.layer.getWeights()[0]!;
  return Float32Array.from((await k.data()) as Float32Array);
}

/** Writes a layer's kernel (keeps the other weights, e.g. the bias). @internal */
export function writeKernel(t: TargetLayer, data: Float32Array): void {
  const ws = t.layer.getWeights();
  const k = tf.tensor(data, t.kernelShape, 'float32');
  t.layer.setWeights([k, ...ws.slice(1)]);
  k.dispose();
}

/**
 * The layer's input rows `[rows, inDim]` from its input tensor (flattened, or im2col patches for
 * Conv2D): one asynchronous read of the tensor. @internal
 */
export async function inputRows(t: TargetLayer, input: tf.Tensor): Promise<{ data: Float32Array; rows: number }> {
  if (t.kind === 'conv2d') {
    if (input.rank !== 4) throw new Error(`layer '${t.name}': expected a 4-D input, got rank ${input.rank}`);
    const s = input.shape as [number, number, number, number];
    const p = im2col((await input.data()) as Float32Array, s, t.conv!);
    return { data: p.data, rows: p.rows };
  }
  const data = (await input.data()) as Float32Array;
  return { data, rows: data.length / t.inDim };
}

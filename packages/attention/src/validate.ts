import * as tf from '@tensorflow/tfjs-core';
import { toViewSync } from '@blockwise/tensor';

/** Shapes of a checked q, k, v triple. */
export interface QkvShape {
  batch: number;
  hq: number;
  hkv: number;
  lq: number;
  lk: number;
  d: number;
}

const fmt = (t: tf.Tensor): string => `[${t.shape.join(', ')}]`;

/**
 * Checks q `[batch, heads, qLen, dim]`, k and v `[batch, kvHeads, kvLen, dim]` with kvHeads
 * dividing heads; throws naming the shapes otherwise.
 */
export function checkQkv(q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, where: string): QkvShape {
  for (const [name, t] of [
    ['q', q],
    ['k', k],
    ['v', v],
  ] as const) {
    if (!(t instanceof tf.Tensor)) throw new Error(`${where}: ${name} must be a tf.Tensor, got ${typeof t}`);
    if (t.rank !== 4) throw new Error(`${where}: ${name} must be 4-D [batch, heads, seq, dim], got shape ${fmt(t)}`);
    if (t.dtype !== 'float32') throw new Error(`${where}: ${name} must be float32, got ${t.dtype}`);
  }
  const [batch, hq, lq, d] = q.shape as [number, number, number, number];
  const [kb, hkv, lk, kd] = k.shape as [number, number, number, number];
  if (!tf.util.arraysEqual(k.shape, v.shape)) {
    throw new Error(`${where}: k and v shapes must match, got k ${fmt(k)} and v ${fmt(v)}`);
  }
  if (kb !== batch) throw new Error(`${where}: batch sizes disagree: q ${fmt(q)} vs k ${fmt(k)}`);
  if (kd !== d) throw new Error(`${where}: head dims disagree: q ${fmt(q)} has dim ${d}, k ${fmt(k)} has dim ${kd}`);
  if (hkv === 0 || hq % hkv !== 0) {
    throw new Error(
      `${where}: query heads (${hq}, q ${fmt(q)}) must be a multiple of key/value heads (${hkv}, k ${fmt(k)})`,
    );
  }
  if (lq === 0 || lk === 0 || d === 0) throw new Error(`${where}: empty dimension in q ${fmt(q)} or k ${fmt(k)}`);
  return { batch, hq, hkv, lq, lk, d };
}

/**
 * On cpu and wasm (data already on the host, the scan costs O(seq * dim) against the kernel's
 * O(seq^2 * dim)): throws when q, k or v hold NaN or ±Infinity, which would otherwise come out as
 * NaN rows without any other sign. Other backends keep their data on the device and are not read.
 */
export function checkFiniteInputs(where: string, tensors: [string, tf.Tensor][]): boolean {
  const backend = tf.getBackend();
  if (backend !== 'cpu' && backend !== 'wasm') return false;
  for (const [name, t] of tensors) {
    const data = toViewSync(t).data;
    for (let i = 0; i < data.length; i++) {
      if (!Number.isFinite(data[i]!))
        throw new Error(
          `${where}: ${name} must be finite, got ${String(data[i])} at flat index ${i} of shape [${t.shape.join(', ')}]`,
        );
    }
  }
  return true;
}

/**
 * After `checkFiniteInputs`: a non-finite output can only come from scores that overflow float32
 * (|q| |k| scale beyond 3.4e38); the output is disposed and the call throws instead of returning it.
 */
export function checkFiniteOutput(where: string, out: tf.Tensor, q: tf.Tensor, k: tf.Tensor, scale: number): void {
  const data = toViewSync(out).data;
  for (let i = 0; i < data.length; i++) {
    if (!Number.isFinite(data[i]!)) {
      const amax = (t: tf.Tensor): number =>
        Array.from(toViewSync(t).data).reduce((a: number, x: number) => Math.max(a, Math.abs(x)), 0);
      const detail = `max |q| ${amax(q).toExponential(2)}, max |k| ${amax(k).toExponential(2)}, scale ${scale}`;
      out.dispose();
      throw new Error(`${where}: the attention scores overflow float32 (${detail}); scale q or k down`);
    }
  }
}

/** The softmax scale: given (finite and positive) or 1/sqrt(dim). */
export function resolveScale(scale: number | undefined, d: number, where: string): number {
  if (scale === undefined) return 1 / Math.sqrt(d);
  if (typeof scale !== 'number' || !Number.isFinite(scale) || scale <= 0) {
    throw new Error(`${where}: scale must be a finite positive number, got ${String(scale)}`);
  }
  return scale;
}

/** Repeats key/value heads so `[b, hkv, l, d]` becomes `[b, hkv * group, l, d]` (head h uses kv head floor(h / group)). */
export function repeatKvHeads(x: tf.Tensor4D, group: number): tf.Tensor4D {
  if (group === 1) return x;
  const [b, h, l, d] = x.shape;
  // rank-3 tile: tfjs has no tile gradient above rank 4
  return tf.tidy(
    () => tf.reshape(tf.tile(tf.reshape(x, [b * h, 1, l * d]), [1, group, 1]), [b, h * group, l, d]) as tf.Tensor4D,
  );
}

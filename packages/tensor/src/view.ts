import * as tf from '@tensorflow/tfjs-core';

/** Typed arrays a view may hold. */
export type ViewData = Float32Array | Int32Array | Uint8Array;

/** A flat typed array with a shape: the plain-data twin of a `tf.Tensor`. */
export interface TypedView<T extends ViewData = Float32Array> {
  data: T;
  shape: number[];
}

/** Number of elements of a shape; throws on negative or fractional dimensions. */
export function shapeSize(shape: readonly number[], argName = 'shape'): number {
  let n = 1;
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) {
      throw new Error(`${argName} must hold non-negative integers, got [${shape.join(', ')}]`);
    }
    n *= d;
  }
  return n;
}

/** Makes a view, checking that the data length equals the product of the shape. */
export function view<T extends ViewData>(data: T, shape: readonly number[]): TypedView<T> {
  const n = shapeSize(shape);
  if (data.length !== n) {
    throw new Error(`view: data has ${data.length} elements but shape [${shape.join(', ')}] needs ${n}`);
  }
  return { data, shape: [...shape] };
}

function checkDtype(t: tf.Tensor, fn: string): void {
  if (t.dtype !== 'float32' && t.dtype !== 'int32' && t.dtype !== 'bool') {
    throw new Error(`${fn}: tensor dtype must be float32, int32 or bool, got ${t.dtype}`);
  }
}

/** Reads a tensor into a view (a copy), without blocking. */
export async function toView(t: tf.Tensor): Promise<TypedView<Float32Array | Int32Array>> {
  checkDtype(t, 'toView');
  const data = (await t.data()) as Float32Array | Int32Array;
  return { data: t.dtype === 'bool' ? Int32Array.from(data) : data, shape: [...t.shape] };
}

/** Reads a tensor into a view (a copy), blocking on GPU backends. */
export function toViewSync(t: tf.Tensor): TypedView<Float32Array | Int32Array> {
  checkDtype(t, 'toViewSync');
  const data = t.dataSync() as Float32Array | Int32Array;
  return { data: t.dtype === 'bool' ? Int32Array.from(data) : data, shape: [...t.shape] };
}

/** Makes a tensor from a view: float32 from Float32Array, int32 from Int32Array or Uint8Array. */
export function fromView(v: TypedView<ViewData>): tf.Tensor {
  view(v.data, v.shape);
  if (v.data instanceof Float32Array) return tf.tensor(v.data, v.shape, 'float32');
  if (v.data instanceof Int32Array) return tf.tensor(v.data, v.shape, 'int32');
  return tf.tensor(Int32Array.from(v.data), v.shape, 'int32');
}

/**
 * Stores bytes in an int32 tensor, four per element, little-endian: byte i is
 * `(w[i >> 2] >> (8 * (i & 3))) & 255`. tfjs has no uint8 dtype; this keeps 1 byte per value.
 */
export function packUint8(bytes: Uint8Array): tf.Tensor1D {
  if (!(bytes instanceof Uint8Array)) {
    throw new Error(`packUint8: bytes must be a Uint8Array, got ${Object.prototype.toString.call(bytes)}`);
  }
  const words = new Int32Array(Math.ceil(bytes.length / 4));
  new Uint8Array(words.buffer).set(bytes);
  return tf.tensor1d(words, 'int32');
}

function unpackWords(words: Int32Array | Float32Array, length: number, fn: string): Uint8Array {
  if (!Number.isInteger(length) || length < 0 || length > words.length * 4) {
    throw new Error(`${fn}: length must be an integer in [0, ${words.length * 4}], got ${length}`);
  }
  const w = words instanceof Int32Array ? words : Int32Array.from(words);
  return new Uint8Array(w.buffer, w.byteOffset, length).slice();
}

/** Reads bytes stored by `packUint8` back, without blocking. */
export async function unpackUint8(t: tf.Tensor, length: number): Promise<Uint8Array> {
  if (t.dtype !== 'int32') throw new Error(`unpackUint8: tensor dtype must be int32, got ${t.dtype}`);
  return unpackWords((await t.data()) as Int32Array, length, 'unpackUint8');
}

/** Reads bytes stored by `packUint8` back, blocking on GPU backends. */
export function unpackUint8Sync(t: tf.Tensor, length: number): Uint8Array {
  if (t.dtype !== 'int32') throw new Error(`unpackUint8Sync: tensor dtype must be int32, got ${t.dtype}`);
  return unpackWords(t.dataSync() as Int32Array, length, 'unpackUint8Sync');
}

import * as tf from '@tensorflow/tfjs-core';
import { checkBoolean, checkOptions } from './options.js';

/** A kernel input or output as plain data. */
export interface KernelIO {
  data: Float32Array | Int32Array;
  shape: number[];
  dtype: 'float32' | 'int32';
}

/** A uniform passed to a WGSL program. */
export interface WebGPUUniform {
  name: string;
  type: 'i32' | 'f32';
  value: number;
}

/**
 * One WebGPU compute program producing one output. `userCode` is WGSL holding
 * `fn main(index : i32) { ... }`; tfjs adds the entry point and bindings, exposes each input as
 * a storage array named after `variableNames`, `uniforms.size` (the output length) and the
 * declared uniforms, and `setOutputAtIndex(i, v)`.
 */
export interface WebGPUProgramSpec {
  outputShape: number[];
  outputDtype?: 'float32' | 'int32';
  /** Cache key: must change whenever `userCode` changes. */
  shaderKey: string;
  userCode: string;
  /**
   * Names under which the program reads its inputs. When every name is one of the kernel's
   * `inputNames`, only those inputs are bound, in this order (a program must read every input
   * it binds: WGSL drops unused bindings); otherwise all inputs are bound in order.
   */
  variableNames: string[];
  uniforms?: WebGPUUniform[];
  /** Threads per workgroup (default 64); one thread per output element. */
  workgroupSize?: number;
}

/** Arguments of `defineKernel`. */
export interface KernelDefinition<A extends object> {
  /** Global tfjs kernel name, e.g. `'BlockwiseAbsmax'`. */
  name: string;
  /** Names of the inputs, in order. */
  inputNames: string[];
  /** Typed-array reference, used on cpu and wasm (and, with a read-back, on other backends). */
  compute: (inputs: KernelIO[], attrs: A) => KernelIO | KernelIO[];
  /** WGSL programs for the webgpu backend, one per output. */
  webgpu?: (inputs: { shape: number[]; dtype: string }[], attrs: A) => WebGPUProgramSpec | WebGPUProgramSpec[];
  /** Gradient: returns a thunk per input name. */
  gradient?: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[], attrs: A) => Record<string, () => tf.Tensor>;
  /** Save the inputs for the gradient (they come first in `saved`). */
  saveInputs?: boolean;
  /** Save the outputs for the gradient (after the inputs in `saved`). */
  saveOutputs?: boolean;
}

type Info = tf.TensorInfo;
type AnyBackend = tf.KernelBackend & Record<string, unknown>;

function io(info: Info, data: Float32Array | Int32Array | Uint8Array): KernelIO {
  const dtype = info.dtype === 'int32' || info.dtype === 'bool' ? 'int32' : 'float32';
  if (info.dtype !== 'float32' && info.dtype !== 'int32' && info.dtype !== 'bool') {
    throw new Error(`kernel input dtype must be float32 or int32, got ${info.dtype}`);
  }
  let d: Float32Array | Int32Array;
  if (data instanceof Uint8Array) d = Int32Array.from(data);
  else d = data;
  return { data: d, shape: [...info.shape], dtype };
}

function asList(out: KernelIO | KernelIO[]): KernelIO[] {
  return Array.isArray(out) ? out : [out];
}

function checkOut(name: string, o: KernelIO): void {
  const n = o.shape.reduce((a, b) => a * b, 1);
  if (o.data.length !== n) {
    throw new Error(`${name}: output has ${o.data.length} values but shape [${o.shape.join(', ')}] needs ${n}`);
  }
}

function cpuImpl<A extends object>(def: KernelDefinition<A>): tf.KernelFunc {
  return ({ inputs, backend, attrs }) => {
    const b = backend as unknown as AnyBackend & { data: { get(id: object): { values: Float32Array | Int32Array } } };
    const ins = def.inputNames.map((n) => {
      const t = inputs[n] as Info;
      const values = b.data.get(t.dataId).values;
      return io(t, values);
    });
    const outs = asList(def.compute(ins, attrs as unknown as A));
    const infos = outs.map((o) => {
      checkOut(def.name, o);
      return (b as unknown as { makeTensorInfo(s: number[], d: string, v: unknown): Info }).makeTensorInfo(
        o.shape,
        o.dtype,
        o.data,
      );
    });
    return infos.length === 1 ? infos[0]! : infos;
  };
}

function wasmImpl<A extends object>(def: KernelDefinition<A>): tf.KernelFunc {
  return ({ inputs, backend, attrs }) => {
    const b = backend as unknown as {
      typedArrayFromHeap(t: Info): Float32Array | Int32Array | Uint8Array;
      makeOutput(shape: number[], dtype: string): Info;
    };
    const ins = def.inputNames.map((n) => {
      const t = inputs[n] as Info;
      return io(t, b.typedArrayFromHeap(t));
    });
    const outs = asList(def.compute(ins, attrs as unknown as A));
    const infos = outs.map((o) => {
      checkOut(def.name, o);
      const out = b.makeOutput(o.shape, o.dtype);
      (b.typedArrayFromHeap(out) as Float32Array | Int32Array).set(o.data);
      return out;
    });
    return infos.length === 1 ? infos[0]! : infos;
  };
}

/** Any other backend: read the inputs back, run the reference, write the outputs. */
function readbackImpl<A extends object>(def: KernelDefinition<A>): tf.KernelFunc {
  return ({ inputs, backend: anyBackend, attrs }) => {
    const backend = anyBackend as tf.KernelBackend;
    const ins = def.inputNames.map((n) => {
      const t = inputs[n] as Info;
      return io(t, backend.readSync(t.dataId) as Float32Array | Int32Array);
    });
    const outs = asList(def.compute(ins, attrs as unknown as A));
    const infos = outs.map((o) => {
      checkOut(def.name, o);
      return { dataId: backend.write(o.data, o.shape, o.dtype), shape: o.shape, dtype: o.dtype } as Info;
    });
    return infos.length === 1 ? infos[0]! : infos;
  };
}

function webgpuImpl<A extends object>(def: KernelDefinition<A>): tf.KernelFunc {
  const fallback = readbackImpl(def);
  return (args) => {
    const { inputs, backend, attrs } = args;
    if (!def.webgpu) {
      try {
        return fallback(args);
      } catch (e) {
        // tfjs-webgpu reads back synchronously through OffscreenCanvas, which Node lacks.
        throw new Error(
          `${def.name}: no WGSL program is defined for webgpu and the synchronous read-back fallback failed here (${e instanceof Error ? e.message : String(e)}); give defineKernel a webgpu program`,
          { cause: e },
        );
      }
    }
    const ins = def.inputNames.map((n) => inputs[n] as Info);
    const specs = def.webgpu(
      ins.map((t) => ({ shape: [...t.shape], dtype: t.dtype })),
      attrs as unknown as A,
    );
    const list = Array.isArray(specs) ? specs : [specs];
    const b = backend as unknown as {
      runWebGPUProgram(p: object, i: Info[], dtype: string, u?: { type: string; data: number[] }[]): Info;
    };
    const infos = list.map((spec) => {
      const byName = spec.variableNames.every((n) => def.inputNames.includes(n));
      const bound = byName ? spec.variableNames.map((n) => ins[def.inputNames.indexOf(n)]!) : ins;
      const wg = spec.workgroupSize ?? 64;
      const size = spec.outputShape.reduce((a, c) => a * c, 1);
      const program = {
        variableNames: spec.variableNames,
        outputShape: spec.outputShape,
        shaderKey: `${def.name}_${spec.shaderKey}`,
        dispatchLayout: { x: spec.outputShape.map((_, i) => i) },
        dispatch: [Math.max(1, Math.ceil(size / wg)), 1, 1] as [number, number, number],
        workgroupSize: [wg, 1, 1] as [number, number, number],
        size: true,
        uniforms: spec.uniforms?.length ? spec.uniforms.map((u) => `${u.name} : ${u.type},`).join(' ') : undefined,
        getUserCode: () => spec.userCode,
      };
      const uniformValues = (spec.uniforms ?? []).map((u) => ({
        type: u.type === 'i32' ? 'int32' : 'float32',
        data: [u.value],
      }));
      return b.runWebGPUProgram(program, bound, spec.outputDtype ?? 'float32', uniformValues);
    });
    return infos.length === 1 ? infos[0]! : infos;
  };
}

const BACKENDS = ['cpu', 'wasm', 'webgpu', 'webgl', 'tensorflow'] as const;

/**
 * Registers one named tfjs kernel on cpu and wasm (from the typed-array `compute`), webgpu (from
 * WGSL programs, or a read-back fallback) and any other backend (read-back), plus its gradient,
 * and returns the op that calls it through `tf.engine().runKernel`.
 */
export function defineKernel<A extends object = Record<string, never>>(
  def: KernelDefinition<A>,
): (inputs: Record<string, tf.Tensor>, attrs?: A) => tf.Tensor | tf.Tensor[] {
  if (def === undefined)
    throw new TypeError('defineKernel: a kernel definition { name, inputNames, compute, ... } is required');
  checkOptions('defineKernel', def, [
    'name',
    'inputNames',
    'compute',
    'webgpu',
    'gradient',
    'saveInputs',
    'saveOutputs',
  ]);
  for (const k of ['webgpu', 'gradient'] as const) {
    if (def[k] !== undefined && typeof def[k] !== 'function')
      throw new TypeError(`defineKernel: ${k} must be a function, got ${typeof def[k]}`);
  }
  if (def.saveInputs !== undefined) checkBoolean('defineKernel: saveInputs', def.saveInputs);
  if (def.saveOutputs !== undefined) checkBoolean('defineKernel: saveOutputs', def.saveOutputs);
  if (typeof def.name !== 'string' || !/^[A-Za-z][A-Za-z0-9_]*$/.test(def.name)) {
    throw new Error(`defineKernel: name must be an identifier like 'BlockwiseAbsmax', got ${JSON.stringify(def.name)}`);
  }
  if (!Array.isArray(def.inputNames) || def.inputNames.length === 0) {
    throw new Error(`defineKernel(${def.name}): inputNames must be a non-empty array of names`);
  }
  if (typeof def.compute !== 'function') {
    throw new Error(`defineKernel(${def.name}): compute must be a function`);
  }
  const impls: Record<(typeof BACKENDS)[number], tf.KernelFunc> = {
    cpu: cpuImpl(def),
    wasm: wasmImpl(def),
    webgpu: webgpuImpl(def),
    webgl: readbackImpl(def),
    tensorflow: readbackImpl(def),
  };
  for (const backendName of BACKENDS) {
    // The registry is global: a second definition (e.g. a re-imported module) keeps the first.
    if (!tf.getKernel(def.name, backendName)) {
      tf.registerKernel({ kernelName: def.name, backendName, kernelFunc: impls[backendName] });
    }
  }
  if (def.gradient && !tf.getGradient(def.name)) {
    const gradient = def.gradient;
    tf.registerGradient({
      kernelName: def.name,
      inputsToSave: def.saveInputs ? def.inputNames : [],
      outputsToSave: def.saveOutputs ? new Array<boolean>(16).fill(true) : [],
      gradFunc: (dy, saved, attrs) =>
        gradient(dy as tf.Tensor | tf.Tensor[], saved as tf.Tensor[], attrs as unknown as A),
    });
  }
  return (inputs, attrs) => {
    for (const n of def.inputNames) {
      if (!(inputs[n] instanceof tf.Tensor)) {
        throw new Error(`${def.name}: input '${n}' must be a tf.Tensor, got ${typeof inputs[n]}`);
      }
    }
    const out = tf
      .engine()
      .runKernel(def.name, inputs as unknown as tf.NamedTensorMap, (attrs ?? {}) as unknown as tf.NamedAttrMap);
    return out as tf.Tensor | tf.Tensor[];
  };
}

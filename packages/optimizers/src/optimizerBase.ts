import * as tf from '@tensorflow/tfjs-core';
import { checkOneOf } from '@blockwise/tensor';
import { fused32Available, fused32SimdSupported, fused32Step, type Fused32Call } from './fused32.js';
import { evalHyper, type HyperCheck, type HyperParameter } from './hyper.js';
import { KERNEL_CHOICES, type KernelChoice, type KernelName, type Rule32Name } from './kernelDefs.js';

/** A named tensor, as tfjs optimizers exchange weights. */
export interface NamedTensor {
  name: string;
  tensor: tf.Tensor;
}

/** A hyperparameter with its check, as a subclass declares it. */
export interface HyperSpec {
  value: HyperParameter;
  check: HyperCheck;
}

/** @internal What the shared step functions need of an optimizer: its fused-step runner. */
export interface FusedRunner {
  runFused32<R extends Rule32Name>(
    p: tf.Variable,
    grad: tf.Tensor,
    states: tf.Variable[],
    call: Omit<Fused32Call<R>, 'impl'>,
  ): boolean;
}

/** Validates the `kernel` option: one of 'auto', 'simd', 'js'; 'simd' needs WebAssembly SIMD here. */
export function checkKernelChoice(value: unknown): KernelChoice {
  const k = checkOneOf('kernel', value ?? 'auto', KERNEL_CHOICES);
  if (k === 'simd' && !fused32SimdSupported())
    throw new Error("kernel: 'simd' needs WebAssembly SIMD, which this JavaScript engine lacks; use 'auto' or 'js'");
  return k;
}

/** The names `name` has with one `_<n>` suffix of a path component removed (tfjs's renaming undone). */
function withoutOneSuffix(name: string): string[] {
  const out: string[] = [];
  for (const m of name.matchAll(/_\d+(?=\/|$)/g)) out.push(name.slice(0, m.index) + name.slice(m.index + m[0].length));
  return out;
}

/**
 * The shared machinery of this package's optimizers: per-variable named state slots (what
 * `getWeights`/`setWeights` round-trip, with the iteration count first as in tfjs), schedules
 * resolved and checked before anything is written, and one `tf.tidy` per update. Generic over
 * the names of its hyperparameters, so a misspelt name is a compile error.
 */
export abstract class BlockwiseOptimizer<K extends string = string> extends tf.Optimizer {
  /** variable name -> slot name -> state variable. */
  protected readonly slots = new Map<string, Map<string, tf.Variable>>();
  /** Which implementation runs the fused steps: 'auto' (fastest here), 'simd' or 'js'. */
  readonly kernel: KernelChoice;
  /** Variable names whose state `setWeights` loaded and no step has used yet. */
  private unclaimed = new Set<string>();
  private ran = new Set<KernelName>();
  /** State variables created by `setWeights` (packed ones are checked at their first use). */
  protected readonly loaded = new WeakMap<tf.Variable, Int32Array | undefined>();
  private lastRan = '';
  private disposed = false;

  constructor(kernel?: KernelChoice) {
    super();
    this.kernel = checkKernelChoice(kernel);
  }

  /** The hyperparameters (number or schedule) with their checks, by option name. */
  protected abstract hypers(): Record<K, HyperSpec>;

  /** Applies one update to one variable; runs inside `tf.tidy`. */
  protected abstract updateVariable(
    name: string,
    variable: tf.Variable,
    grad: tf.Tensor,
    h: Record<K, number>,
    t: number,
  ): void;

  /** Hook run inside the update's tidy before any variable is updated (cross-layer statistics). */
  protected beforeUpdates(_entries: [string, tf.Tensor | undefined][], _h: Record<K, number>, _t: number): void {}

  /**
   * Which implementation ran the last step: 'wasm-simd', 'js' (typed arrays), 'wgsl' or
   * 'tfjs-ops', joined with '+' when variables took different paths; '' before the first step.
   */
  lastKernel(): string {
    return this.lastRan;
  }

  /** Records the implementation that updated a variable in this step. */
  protected noteKernel(k: KernelName): void {
    this.ran.add(k);
  }

  /** Resolves every hyperparameter at `step` (0-based count of updates done); throws on a bad value. */
  resolveHypers(step: number): Record<K, number> {
    const out = {} as Record<K, number>;
    for (const [name, spec] of Object.entries(this.hypers()) as [K, HyperSpec][])
      out[name] = evalHyper(name, spec.value, step, spec.check);
    return out;
  }

  /** Updates every variable that has a gradient. Bad schedule values throw before any write. */
  applyGradients(variableGradients: tf.NamedTensorMap | NamedTensor[]): void {
    const entries: [string, tf.Tensor | undefined][] = Array.isArray(variableGradients)
      ? variableGradients.map((v) => [v.name, v.tensor])
      : Object.entries(variableGradients);
    if (this.disposed)
      throw new Error(
        `${this.getClassName()}.applyGradients: this optimizer was disposed; create a new one (its state is gone)`,
      );
    for (const [name, grad] of entries) {
      if (grad == null) continue;
      const variable = tf.engine().registeredVariables[name];
      if (!variable) throw new Error(`applyGradients: no registered variable named '${name}'`);
      if (!(grad instanceof tf.Tensor) || grad.isDisposed)
        throw new Error(
          `applyGradients: the gradient of '${name}' must be a live tf.Tensor, got ${grad instanceof tf.Tensor ? 'a disposed tensor' : typeof grad}`,
        );
      if (grad.shape.length !== variable.shape.length || grad.shape.some((d, i) => d !== variable.shape[i])) {
        throw new Error(
          `applyGradients: the gradient of '${name}' has shape [${grad.shape.join(', ')}], the variable [${variable.shape.join(', ')}]`,
        );
      }
      if (grad.dtype !== 'float32' && grad.dtype !== 'int32')
        throw new Error(`applyGradients: the gradient of '${name}' must be float32 or int32, got ${grad.dtype}`);
    }
    this.adoptLoaded(entries);
    const step = this.iterations;
    const h = this.resolveHypers(step);
    this.ran.clear();
    tf.tidy(() => {
      // int32 gradients are cast (as tf.train.adam effectively does): the kernels read float32.
      const cast = entries.map(
        ([n, g]) =>
          [n, g != null && g.dtype !== 'float32' ? tf.cast(g, 'float32') : g] as [string, tf.Tensor | undefined],
      );
      this.beforeUpdates(cast, h, step + 1);
      for (const [name, grad] of cast) {
        if (grad == null) continue;
        this.updateVariable(name, tf.engine().registeredVariables[name]!, grad, h, step + 1);
      }
    });
    this.lastRan = [...this.ran].sort().join('+');
    this.incrementIterations();
  }

  /**
   * Attaches state loaded under another name to a variable that has none: tfjs renames the
   * variables of a model loaded again in the same process (`fc1/kernel` becomes `fc1/kernel_1`
   * or `fc1_1/kernel`), so loaded state that no step has used yet moves to a variable whose name
   * is its name with one `_<n>` added, when exactly one such state exists and its size matches.
   */
  private adoptLoaded(entries: [string, tf.Tensor | undefined][]): void {
    if (this.unclaimed.size === 0) return;
    for (const [name, grad] of entries) {
      if (grad == null) continue;
      if (this.slots.has(name)) {
        this.unclaimed.delete(name);
        continue;
      }
      const candidates = [...this.unclaimed].filter(
        (k) =>
          withoutOneSuffix(name).includes(k) &&
          [...this.slots.get(k)!.values()].every((v) => v.size === grad.size || v.dtype === 'int32' || v.size === 1),
      );
      if (candidates.length !== 1) continue;
      const from = candidates[0]!;
      this.slots.set(name, this.slots.get(from)!);
      this.slots.delete(from);
      this.unclaimed.delete(from);
    }
  }

  /** The slot `slot` of variable `varName`, if it exists. */
  protected getSlot(varName: string, slot: string): tf.Variable | undefined {
    return this.slots.get(varName)?.get(slot);
  }

  /** Creates (or returns) a non-trainable state variable. */
  protected ensureSlot(varName: string, slot: string, init: () => tf.Tensor): tf.Variable {
    const existing = this.getSlot(varName, slot);
    if (existing) return existing;
    const v = tf.tidy(() => tf.variable(init(), false));
    let m = this.slots.get(varName);
    if (!m) {
      m = new Map();
      this.slots.set(varName, m);
    }
    m.set(slot, v);
    return v;
  }

  /** Removes a slot (e.g. when a variable switches state layout) and frees it. */
  protected dropSlot(varName: string, slot: string): void {
    const m = this.slots.get(varName);
    const v = m?.get(slot);
    if (v) {
      v.dispose();
      m!.delete(slot);
    }
  }

  /** Every state variable, named `<variable>/<slot>`, in creation order. */
  stateVariables(): { name: string; variable: tf.Variable }[] {
    const out: { name: string; variable: tf.Variable }[] = [];
    for (const [varName, m] of this.slots)
      for (const [slot, v] of m) out.push({ name: `${varName}/${slot}`, variable: v });
    return out;
  }

  override async getWeights(): Promise<NamedTensor[]> {
    const states = this.stateVariables().map(({ name, variable }) => ({ name, tensor: variable as tf.Tensor }));
    return [await this.saveIterations(), ...states];
  }

  /**
   * Loads state saved by `getWeights` (or tfjs's `model.save(..., { includeOptimizer: true })`).
   * Everything is checked before anything is replaced: the iteration count (an integer >= 0),
   * names `<variable>/<slot>`, finite float32 state, non-negative second moments, finite
   * non-negative block maxima of packed states. Passing this optimizer's own `getWeights()` works.
   */
  override async setWeights(weightValues: NamedTensor[]): Promise<void> {
    if (this.disposed) throw new Error(`${this.getClassName()}.setWeights: this optimizer was disposed`);
    if (!Array.isArray(weightValues) || weightValues.length === 0) {
      throw new Error(
        `setWeights: weightValues must be a non-empty array of { name, tensor } with the iteration count first, got ${Array.isArray(weightValues) ? 'an empty array' : typeof weightValues}`,
      );
    }
    const [first, ...rest] = weightValues;
    if (!(first?.tensor instanceof tf.Tensor) || first.tensor.size !== 1)
      throw new Error('setWeights: the first weight must be the scalar iteration count');
    const iter = (await first.tensor.data())[0]!;
    if (!Number.isInteger(iter) || iter < 0)
      throw new Error(`setWeights: the iteration count must be an integer >= 0, got ${iter}`);
    const parsed: { varName: string; slot: string; tensor: tf.Tensor; words: Int32Array | undefined }[] = [];
    for (const { name, tensor } of rest) {
      const cut = typeof name === 'string' ? name.lastIndexOf('/') : -1;
      if (cut <= 0)
        throw new Error(`setWeights: state names look like '<variable>/<slot>', got ${JSON.stringify(name)}`);
      if (!(tensor instanceof tf.Tensor) || tensor.isDisposed)
        throw new Error(`setWeights: '${name}' must be a live tf.Tensor`);
      const words = await checkState(name, name.slice(cut + 1), tensor);
      parsed.push({ varName: name.slice(0, cut), slot: name.slice(cut + 1), tensor, words });
    }
    // Clone before disposing: the tensors may be this optimizer's own slots.
    const fresh = parsed.map(({ varName, slot, tensor, words }) => ({
      varName,
      slot,
      words,
      v: tf.tidy(() => tf.variable(tf.clone(tensor), false)),
    }));
    await this.extractIterations(weightValues);
    this.disposeSlots();
    for (const { varName, slot, v, words } of fresh) {
      let m = this.slots.get(varName);
      if (!m) {
        m = new Map();
        this.slots.set(varName, m);
      }
      m.set(slot, v);
      this.loaded.set(v, words);
      this.unclaimed.add(varName);
    }
  }

  /**
   * @internal Runs one fused float32-state step when the backend has the kernel (cpu, wasm) and
   * records which implementation ran; returns false elsewhere (the caller then uses tfjs ops).
   */
  runFused32<R extends Rule32Name>(
    p: tf.Variable,
    grad: tf.Tensor,
    states: tf.Variable[],
    call: Omit<Fused32Call<R>, 'impl'>,
  ): boolean {
    if (!fused32Available(tf.getBackend())) {
      this.noteKernel('tfjs-ops');
      return false;
    }
    this.noteKernel(fused32Step(p, grad, states, { ...call, impl: this.kernel }));
    return true;
  }

  private disposeSlots(): void {
    for (const m of this.slots.values()) for (const v of m.values()) v.dispose();
    this.slots.clear();
    this.unclaimed.clear();
  }

  /** Frees the state; stepping afterwards throws (instead of silently starting from zero state). */
  override dispose(): void {
    this.disposeSlots();
    this.disposed = true;
    super.dispose();
  }

  /** Hyperparameter values for `getConfig`: numbers as given; a schedule as its current value. */
  protected hyperConfig(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [name, spec] of Object.entries(this.hypers()) as [K, HyperSpec][]) {
      out[name] =
        typeof spec.value === 'number' ? spec.value : evalHyper(name, spec.value, this.iterations, spec.check);
    }
    return out;
  }

  /** Builds an optimizer from `getConfig()` output (tfjs serialization). */
  static override fromConfig<T extends tf.serialization.Serializable>(
    cls: tf.serialization.SerializableConstructor<T>,
    config: tf.serialization.ConfigDict,
  ): T {
    // tfjs-layers hands its deserialization context along with the saved config.
    const { customObjects: _ignored, ...own } = config;
    return new cls(own);
  }
}

/** Throws when a loaded state tensor cannot be right (non-finite values, negative second moments or block maxima). */
async function checkState(name: string, slot: string, t: tf.Tensor): Promise<Int32Array | undefined> {
  if (/^q[48]$/.test(slot)) {
    if (t.dtype !== 'int32' || t.rank !== 1)
      throw new Error(
        `setWeights: packed state '${name}' must be a 1-D int32 tensor, got ${t.dtype} of rank ${t.rank}`,
      );
    // Its block maxima sit at an offset that depends on the variable's size, known at the first
    // step: keep the words read here so that step checks them without reading the device again.
    return (await t.data()) as Int32Array;
  }
  if (t.dtype !== 'float32') throw new Error(`setWeights: state '${name}' must be float32, got ${t.dtype}`);
  const d = (await t.data()) as Float32Array;
  for (let i = 0; i < d.length; i++) {
    const x = d[i]!;
    if (x - x !== 0)
      throw new Error(`setWeights: state '${name}' holds ${x} at index ${i}; saved state is always finite`);
    if (slot === 'v' && x < 0)
      throw new Error(`setWeights: second moment '${name}' holds ${x} at index ${i}; it must be >= 0`);
  }
  return undefined;
}

/** Zeroes non-finite gradient entries and returns the mask of finite ones. */
export function finiteGrad(grad: tf.Tensor): { g: tf.Tensor; ok: tf.Tensor } {
  const ok = tf.isFinite(grad);
  return { g: tf.where(ok, grad, tf.zerosLike(grad)), ok };
}

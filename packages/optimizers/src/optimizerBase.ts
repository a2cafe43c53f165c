import * as tf from '@tensorflow/tfjs-core';
import { evalHyper, type HyperCheck, type HyperParameter } from './hyper.js';

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

/**
 * The shared machinery of this package's optimizers: per-variable named state slots (what
 * `getWeights`/`setWeights` round-trip, with the iteration count first as in tfjs), schedules
 * resolved and checked before anything is written, and one `tf.tidy` per update.
 */
export abstract class BlockwiseOptimizer extends tf.Optimizer {
  /** variable name -> slot name -> state variable. */
  protected readonly slots = new Map<string, Map<string, tf.Variable>>();

  /** The hyperparameters (number or schedule) with their checks, by option name. */
  protected abstract hypers(): Record<string, HyperSpec>;

  /** Applies one update to one variable; runs inside `tf.tidy`. */
  protected abstract updateVariable(
    name: string,
    variable: tf.Variable,
    grad: tf.Tensor,
    h: Record<string, number>,
    t: number,
  ): void;

  /** Hook run inside the update's tidy before any variable is updated (cross-layer statistics). */
  protected beforeUpdates(_entries: [string, tf.Tensor | undefined][], _h: Record<string, number>, _t: number): void {}

  /** Resolves every hyperparameter at `step` (0-based count of updates done); throws on a bad value. */
  resolveHypers(step: number): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [name, spec] of Object.entries(this.hypers())) out[name] = evalHyper(name, spec.value, step, spec.check);
    return out;
  }

  /** Updates every variable that has a gradient. Bad schedule values throw before any write. */
  applyGradients(variableGradients: tf.NamedTensorMap | NamedTensor[]): void {
    const entries: [string, tf.Tensor | undefined][] = Array.isArray(variableGradients)
      ? variableGradients.map((v) => [v.name, v.tensor])
      : Object.entries(variableGradients);
    const step = this.iterations;
    const h = this.resolveHypers(step);
    tf.tidy(() => {
      this.beforeUpdates(entries, h, step + 1);
      for (const [name, grad] of entries) {
        if (grad == null) continue;
        const variable = tf.engine().registeredVariables[name];
        if (!variable) throw new Error(`applyGradients: no registered variable named '${name}'`);
        this.updateVariable(name, variable, grad, h, step + 1);
      }
    });
    this.incrementIterations();
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
    for (const [varName, m] of this.slots) for (const [slot, v] of m) out.push({ name: `${varName}/${slot}`, variable: v });
    return out;
  }

  override async getWeights(): Promise<NamedTensor[]> {
    const states = this.stateVariables().map(({ name, variable }) => ({ name, tensor: variable as tf.Tensor }));
    return [await this.saveIterations(), ...states];
  }

  override async setWeights(weightValues: NamedTensor[]): Promise<void> {
    const rest = await this.extractIterations(weightValues);
    this.disposeSlots();
    for (const { name, tensor } of rest) {
      const cut = name.lastIndexOf('/');
      if (cut <= 0) throw new Error(`setWeights: state names look like '<variable>/<slot>', got '${name}'`);
      const varName = name.slice(0, cut);
      const slot = name.slice(cut + 1);
      this.ensureSlot(varName, slot, () => tf.clone(tensor));
    }
  }

  private disposeSlots(): void {
    for (const m of this.slots.values()) for (const v of m.values()) v.dispose();
    this.slots.clear();
  }

  override dispose(): void {
    this.disposeSlots();
    super.dispose();
  }

  /** Hyperparameter values for `getConfig`: numbers as given; a schedule as its current value. */
  protected hyperConfig(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [name, spec] of Object.entries(this.hypers())) {
      out[name] = typeof spec.value === 'number' ? spec.value : evalHyper(name, spec.value, this.iterations, spec.check);
    }
    return out;
  }

  /** Builds an optimizer from `getConfig()` output (tfjs serialization). */
  static override fromConfig<T extends tf.serialization.Serializable>(
    cls: tf.serialization.SerializableConstructor<T>,
    config: tf.serialization.ConfigDict,
  ): T {
    return new cls(config);
  }
}

/** Zeroes non-finite gradient entries and returns the mask of finite ones. */
export function finiteGrad(grad: tf.Tensor): { g: tf.Tensor; ok: tf.Tensor } {
  const ok = tf.isFinite(grad);
  return { g: tf.where(ok, grad, tf.zerosLike(grad)), ok };
}

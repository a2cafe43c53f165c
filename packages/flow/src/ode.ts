import * as tf from '@tensorflow/tfjs-core';
import { checkTimeGrid } from './timegrid.js';
import { checkAdaptiveOptions, integrateDopri5, type AdaptiveOptions } from './dopri5.js';

/** A velocity field: takes the state x (any shape) and a time t, returns dx/dt of x's shape. */
export type VelocityFn = (x: tf.Tensor, t: number) => tf.Tensor;

/** Fixed-step methods and the adaptive Dormand-Prince method. */
export type OdeMethod = 'euler' | 'midpoint' | 'heun' | 'rk4' | 'dopri5';

/** Options of `solveOde`. */
export interface SolveOdeOptions extends AdaptiveOptions {
  /** Integration method (default 'euler'). */
  method?: OdeMethod;
  /** Times to integrate through, strictly monotone (default [0, 1]); decreasing integrates backward. */
  timeGrid?: ArrayLike<number>;
  /**
   * Fixed-step methods: the largest step. Each grid interval is cut into ceil(length / stepSize) equal
   * steps so that every grid time is hit exactly. Without it, one step per grid interval.
   */
  stepSize?: number;
  /** Return the state at every grid time (default false: only the final state). */
  returnIntermediates?: boolean;
  /**
   * Check every velocity for NaN/Inf and stop with the step and time of the first bad one (default
   * true). Tested on the device; read back every `syncEvery` steps and at the end (fixed steps),
   * or when the error estimate turns non-finite (dopri5).
   */
  checkFinite?: boolean;
  /**
   * Fixed-step methods: steps between waits for the device (default 16). The NaN/Inf flag (or,
   * without `checkFinite`, one element of the state) is read back, awaited: this bounds the work
   * queued ahead of a GPU and stops a diverged solve early. dopri5 reads every step anyway.
   */
  syncEvery?: number;
}

/** Result of `solveOde`. */
export interface OdeResult {
  /** State at the last grid time. */
  x: tf.Tensor;
  /** States at every grid time (first is a clone of x0), when `returnIntermediates` was set. */
  intermediates?: tf.Tensor[];
  /** Number of velocity evaluations. */
  nfe: number;
  /** Accepted steps. */
  steps: number;
  /** Rejected steps (dopri5 only, else 0). */
  rejected: number;
}

/** Velocity evaluation with counting, shape checks and a device-side finiteness flag. */
export interface CountedVelocity {
  (x: tf.Tensor, t: number, step: number): tf.Tensor;
  nfe: number;
  /**
   * Reads the finiteness flag back (one scalar, awaited) and throws, naming the step and time of
   * the first evaluation that returned NaN or Inf. A no-op without `checkFinite`.
   */
  check(): Promise<void>;
  /** Releases the flag tensor. */
  dispose(): void;
}

/** "No bad evaluation": above any evaluation index (indices are exact in float32 below 2^24). */
const NO_BAD_CALL = 2 ** 30;

/**
 * Wraps `velocity` so every call is counted and checked: the shape at once, NaN/Inf (when
 * `checkFinite`) on the device, into a flag holding the index of the first bad evaluation, so
 * that no evaluation waits for the host; `check()` reads the flag.
 */
export function countedVelocity(velocity: VelocityFn, checkFinite = true): CountedVelocity {
  // (step, t) of every evaluation, to name the first bad one; and the device flag.
  const calls: { step: number; t: number }[] = [];
  let firstBad: tf.Scalar | null = null;
  const f = ((x: tf.Tensor, t: number, step: number): tf.Tensor => {
    f.nfe++;
    let v = velocity(x, t);
    // A field that returns its input (dx/dt = x) must not hand the state itself to the solver, which disposes velocities.
    if (v === x) v = x.clone();
    if (!(v instanceof tf.Tensor)) throw new Error(`velocity must return a tf.Tensor, got ${typeof v} at step ${step} (t = ${t})`);
    if (v.shape.join() !== x.shape.join()) {
      const shape = v.shape.join(', ');
      v.dispose();
      throw new Error(`velocity must return the state's shape [${x.shape.join(', ')}], got [${shape}] at step ${step} (t = ${t})`);
    }
    if (checkFinite) {
      const index = calls.length;
      calls.push({ step, t });
      const prev = firstBad;
      // Kept: evaluations run inside the solver's tidy scopes, and the flag outlives them.
      firstBad = tf.keep(
        tf.tidy(() => {
          const bad = tf.logicalNot(tf.all(tf.isFinite(v)));
          const here = tf.where(bad, tf.scalar(index), tf.scalar(NO_BAD_CALL)) as tf.Scalar;
          return prev ? (tf.minimum(prev, here) as tf.Scalar) : here;
        }),
      );
      prev?.dispose();
    }
    return v;
  }) as CountedVelocity;
  f.nfe = 0;
  f.check = async () => {
    if (!firstBad) return;
    const index = (await firstBad.data())[0] as number;
    if (index >= NO_BAD_CALL) return;
    const c = calls[Math.min(index, calls.length - 1)] as { step: number; t: number };
    throw new Error(`velocity returned NaN or Inf at step ${c.step} (t = ${c.t}); the model diverged or got bad input`);
  };
  f.dispose = () => {
    firstBad?.dispose();
    firstBad = null;
  };
  return f;
}

/** One fixed step of size h from (x, t): returns x at t + h. */
function fixedStep(method: Exclude<OdeMethod, 'dopri5'>, f: CountedVelocity, x: tf.Tensor, t: number, h: number, step: number): tf.Tensor {
  const keep: tf.Tensor[] = [];
  const call = (y: tf.Tensor, ty: number): tf.Tensor => {
    const v = f(y, ty, step);
    keep.push(v);
    return v;
  };
  try {
    return tf.tidy(() => {
      const k1 = call(x, t);
      switch (method) {
        case 'euler':
          return tf.add(x, tf.mul(k1, h));
        case 'midpoint': {
          const k2 = call(tf.add(x, tf.mul(k1, h / 2)), t + h / 2);
          return tf.add(x, tf.mul(k2, h));
        }
        case 'heun': {
          // Explicit trapezoidal rule (Heun's 2nd-order method).
          const k2 = call(tf.add(x, tf.mul(k1, h)), t + h);
          return tf.add(x, tf.mul(tf.add(k1, k2), h / 2));
        }
        case 'rk4': {
          // Classic 4th-order Runge-Kutta (1/6, 1/3, 1/3, 1/6).
          const k2 = call(tf.add(x, tf.mul(k1, h / 2)), t + h / 2);
          const k3 = call(tf.add(x, tf.mul(k2, h / 2)), t + h / 2);
          const k4 = call(tf.add(x, tf.mul(k3, h)), t + h);
          const s = tf.addN([k1, tf.mul(k2, 2), tf.mul(k3, 2), k4]);
          return tf.add(x, tf.mul(s, h / 6));
        }
      }
    });
  } finally {
    for (const v of keep) if (!v.isDisposed) v.dispose();
  }
}

/** Number of velocity evaluations per step of each fixed-step method. */
export const STAGES: Record<Exclude<OdeMethod, 'dopri5'>, number> = { euler: 1, midpoint: 2, heun: 2, rk4: 4 };

/**
 * Integrates dx/dt = velocity(x, t) from x0 through the times of `timeGrid` (flow_matching's
 * `ODESolver.sample`, torchdiffeq's `odeint`). Fixed-step methods read back one scalar (the
 * NaN/Inf flag) every `syncEvery` steps and at the end; dopri5 reads its error norm once per step.
 * Bad arguments reject the promise. x0 is not disposed; the result's tensors belong to the caller.
 */
export async function solveOde(velocity: VelocityFn, x0: tf.Tensor, opts: SolveOdeOptions = {}): Promise<OdeResult> {
  if (typeof velocity !== 'function') throw new Error(`velocity must be a function (x, t) => tf.Tensor, got ${typeof velocity}`);
  if (!(x0 instanceof tf.Tensor)) throw new Error(`x0 must be a tf.Tensor, got ${typeof x0}`);
  const method = opts.method ?? 'euler';
  if (!['euler', 'midpoint', 'heun', 'rk4', 'dopri5'].includes(method)) {
    throw new Error(`method must be one of euler, midpoint, heun, rk4, dopri5, got ${String(method)}`);
  }
  const grid = checkTimeGrid(opts.timeGrid ?? [0, 1]);
  const { stepSize } = opts;
  if (stepSize !== undefined && (!Number.isFinite(stepSize) || stepSize <= 0)) {
    throw new Error(`stepSize must be a positive number, got ${stepSize}`);
  }
  const syncEvery = opts.syncEvery ?? 16;
  if (!Number.isInteger(syncEvery) || syncEvery < 1) throw new Error(`syncEvery must be a positive integer, got ${syncEvery}`);
  if (method === 'dopri5') checkAdaptiveOptions(opts);
  const checkFinite = opts.checkFinite ?? true;
  const f = countedVelocity(velocity, checkFinite);
  const inter: tf.Tensor[] | undefined = opts.returnIntermediates ? [x0.clone()] : undefined;
  try {
    if (method === 'dopri5') {
      const r = await integrateDopri5(f, x0, grid, opts, inter);
      return { x: r.x, intermediates: inter, nfe: f.nfe, steps: r.steps, rejected: r.rejected };
    }
    const r = await integrateFixed(method, f, x0, grid, stepSize, { syncEvery, checkFinite }, inter);
    return { x: r.x, intermediates: inter, nfe: f.nfe, steps: r.steps, rejected: 0 };
  } finally {
    f.dispose();
  }
}

/** Reads one element of x back (awaited): waits for the work queued before it. */
async function awaitDevice(x: tf.Tensor): Promise<void> {
  const one = tf.tidy(() => tf.slice(tf.reshape(x, [-1]), [0], [1]));
  try {
    await one.data();
  } finally {
    one.dispose();
  }
}

/** Fixed steps through the grid; reads back one scalar every `syncEvery` steps and at the end. */
async function integrateFixed(
  method: Exclude<OdeMethod, 'dopri5'>,
  f: CountedVelocity,
  x0: tf.Tensor,
  grid: number[],
  stepSize: number | undefined,
  { syncEvery, checkFinite }: { syncEvery: number; checkFinite: boolean },
  inter: tf.Tensor[] | undefined,
): Promise<{ x: tf.Tensor; steps: number }> {
  let x = x0;
  let steps = 0;
  try {
    for (let i = 0; i + 1 < grid.length; i++) {
      const a = grid[i] as number;
      const b = grid[i + 1] as number;
      const n = stepSize === undefined ? 1 : Math.max(1, Math.ceil(Math.abs(b - a) / stepSize - 1e-9));
      for (let j = 0; j < n; j++) {
        const t = j === 0 ? a : a + ((b - a) * j) / n;
        const tNext = j === n - 1 ? b : a + ((b - a) * (j + 1)) / n;
        const next = fixedStep(method, f, x, t, tNext - t, steps);
        if (x !== x0 && !inter?.includes(x)) x.dispose();
        x = next;
        steps++;
        if (steps % syncEvery === 0 && !(i + 2 === grid.length && j === n - 1)) {
          if (checkFinite) await f.check();
          else await awaitDevice(x);
        }
      }
      if (inter) inter.push(x);
    }
    await f.check();
  } catch (e) {
    if (x !== x0 && !inter?.includes(x)) x.dispose();
    if (inter) for (const s of inter) s.dispose();
    throw e;
  }
  return { x: inter ? x.clone() : x, steps };
}

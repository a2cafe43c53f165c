import * as tf from '@tensorflow/tfjs-core';
import { checkBoolean, checkNumber, checkOptions, describeValue, nearestName } from '@blockwise/tensor';
import { checkTimeGrid } from './timegrid.js';
import { checkAdaptiveOptions, integrateAdaptive, type AdaptiveMethod, type AdaptiveOptions } from './adaptive.js';

/** A velocity field: takes the state x (any shape) and a time t, returns dx/dt of x's shape. */
export type VelocityFn = (x: tf.Tensor, t: number) => tf.Tensor;

/**
 * Fixed-step methods, named as in torchdiffeq ('euler', 'midpoint', 'heun2', 'heun3', 'rk4' = the
 * 3/8 rule) plus 'rk4-classic' (the 1/6, 1/3, 1/3, 1/6 method) and 'heun' (an alias of 'heun2').
 */
export type FixedMethod = 'euler' | 'midpoint' | 'heun' | 'heun2' | 'heun3' | 'rk4' | 'rk4-classic';

/** Every method of `solveOde`: fixed-step ones and torchdiffeq's adaptive 'dopri5', 'bosh3', 'adaptive_heun'. */
export type OdeMethod = FixedMethod | AdaptiveMethod;

/** Options of `solveOde`. */
export interface SolveOdeOptions extends AdaptiveOptions {
  /** Integration method (default 'euler', as flow_matching's `ODESolver.sample`; torchdiffeq's `odeint` defaults to 'dopri5'). */
  method?: OdeMethod;
  /** Times to integrate through, strictly monotone (default [0, 1]); decreasing integrates backward. */
  timeGrid?: ArrayLike<number>;
  /**
   * Fixed-step methods: the largest step. Each grid interval is cut into ceil(length / stepSize) equal
   * steps so that every grid time is hit exactly. Without it, one step per grid interval. Not
   * allowed with adaptive methods (they choose their steps; see `firstStep`).
   */
  stepSize?: number;
  /** Return the state at every grid time (default false: only the final state). */
  returnIntermediates?: boolean;
  /**
   * Check every velocity and every new state for NaN/Inf and stop with the step and time of the
   * first bad one (default true). Tested on the device; read back every `syncEvery` steps and at
   * the end (fixed steps), or with the error estimate (adaptive methods).
   */
  checkFinite?: boolean;
  /**
   * Fixed-step methods: steps between waits for the device (default 16). The NaN/Inf flag (or,
   * without `checkFinite`, one element of the state) is read back, awaited: this bounds the work
   * queued ahead of a GPU and stops a diverged solve early. Adaptive methods read every step anyway.
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
  /** Rejected steps (adaptive methods only, else 0). */
  rejected: number;
}

const FIXED_METHODS: readonly FixedMethod[] = ['euler', 'midpoint', 'heun', 'heun2', 'heun3', 'rk4', 'rk4-classic'];
const ADAPTIVE_METHODS: readonly AdaptiveMethod[] = ['dopri5', 'bosh3', 'adaptive_heun'];
/** torchdiffeq methods this package does not implement, for a precise error. */
const NOT_IMPLEMENTED = [
  'dopri8',
  'tsit5',
  'fehlberg2',
  'explicit_adams',
  'implicit_adams',
  'fixed_adams',
  'implicit_euler',
  'implicit_midpoint',
  'trapezoid',
  'radauIIA3',
  'radauIIA5',
  'gl4',
  'gl6',
  'sdirk2',
  'trbdf2',
  'scipy_solver',
];

/** @internal Throws unless `method` is one of the given methods, naming the nearest one (and torchdiffeq methods that are not implemented). */
export function checkMethod<M extends string>(what: string, method: unknown, methods: readonly M[]): M {
  if (typeof method === 'string' && (methods as readonly string[]).includes(method)) return method as M;
  const list = methods.join(', ');
  if (typeof method === 'string' && NOT_IMPLEMENTED.includes(method)) {
    throw new Error(
      `${what}: method ${describeValue(method)} is a torchdiffeq method this package does not implement; use one of ${list}`,
    );
  }
  const near = typeof method === 'string' ? nearestName(method, methods) : undefined;
  throw new Error(
    `${what}: method must be one of ${list}, got ${describeValue(method)}${near ? `; did you mean ${JSON.stringify(near)}?` : ''}`,
  );
}

/** @internal Velocity evaluation with counting, shape checks and a device-side finiteness flag. */
export interface CountedVelocity {
  (x: tf.Tensor, t: number, step: number): tf.Tensor;
  nfe: number;
  /**
   * Folds the finiteness of a state into the flag (no read): a finite velocity can still
   * overflow the state (x + h v beyond float32's 3.4e38). Step -1 stands for x0. A no-op
   * without `checkFinite`.
   */
  watchState(x: tf.Tensor, step: number, t: number): void;
  /**
   * Reads the finiteness flag back (one scalar, awaited) and throws, naming the step and time of
   * the first evaluation or state that held NaN or Inf. A no-op without `checkFinite`.
   */
  check(): Promise<void>;
  /** Releases the flag tensor. */
  dispose(): void;
}

/** "No bad evaluation": above any evaluation index (indices are exact in float32 below 2^24). */
const NO_BAD_CALL = 2 ** 30;

/**
 * @internal
 * Wraps `velocity` so every call is counted and checked: the shape and dtype at once, NaN/Inf (when
 * `checkFinite`) on the device, into a flag holding the index of the first bad evaluation, so
 * that no evaluation waits for the host; `check()` reads the flag.
 */
export function countedVelocity(velocity: VelocityFn, checkFinite = true): CountedVelocity {
  if (typeof velocity !== 'function')
    throw new Error(`velocity must be a function (x, t) => tf.Tensor, got ${describeValue(velocity)}`);
  // (step, t, what) of every checked tensor, to name the first bad one; and the device flag.
  const calls: { step: number; t: number; state: boolean }[] = [];
  let firstBad: tf.Scalar | null = null;
  const flag = (v: tf.Tensor, step: number, t: number, state: boolean): void => {
    const index = calls.length;
    calls.push({ step, t, state });
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
  };
  const f = ((x: tf.Tensor, t: number, step: number): tf.Tensor => {
    f.nfe++;
    let v = velocity(x, t);
    // A field that returns its input (dx/dt = x) must not hand the state itself to the solver, which disposes velocities.
    if (v === x) v = x.clone();
    if (!(v instanceof tf.Tensor))
      throw new Error(`velocity must return a tf.Tensor, got ${describeValue(v)} at step ${step} (t = ${t})`);
    if (v.shape.join() !== x.shape.join() || v.dtype !== 'float32') {
      const got = `${v.dtype} [${v.shape.join(', ')}]`;
      v.dispose();
      throw new Error(
        `velocity must return float32 of the state's shape [${x.shape.join(', ')}], got ${got} at step ${step} (t = ${t})`,
      );
    }
    if (checkFinite) flag(v, step, t, false);
    return v;
  }) as CountedVelocity;
  f.nfe = 0;
  f.watchState = (x, step, t) => {
    if (checkFinite) flag(x, step, t, true);
  };
  f.check = async () => {
    if (!firstBad) return;
    const index = (await firstBad.data())[0]!;
    if (index >= NO_BAD_CALL) return;
    const c = calls[Math.min(index, calls.length - 1)] as { step: number; t: number; state: boolean };
    if (c.state && c.step < 0)
      throw new Error(`x0 holds NaN or Inf (t = ${c.t}); the solve needs a finite starting state`);
    if (c.state) {
      throw new Error(
        `the state became NaN or Inf by step ${c.step} (t = ${c.t}) although the velocities were finite: x + h v overflowed float32 (max 3.4e38)`,
      );
    }
    throw new Error(`velocity returned NaN or Inf at step ${c.step} (t = ${c.t}); the model diverged or got bad input`);
  };
  f.dispose = () => {
    firstBad?.dispose();
    firstBad = null;
  };
  return f;
}

/** One fixed step of size h from (x, t): returns x at t + h. */
function fixedStep(
  method: FixedMethod,
  f: CountedVelocity,
  x: tf.Tensor,
  t: number,
  h: number,
  step: number,
): tf.Tensor {
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
        case 'heun':
        case 'heun2': {
          // Explicit trapezoidal rule (Heun's 2nd-order method; torchdiffeq's 'heun2').
          const k2 = call(tf.add(x, tf.mul(k1, h)), t + h);
          return tf.add(x, tf.mul(tf.add(k1, k2), h / 2));
        }
        case 'heun3': {
          // Heun's 3rd-order method: c = (0, 1/3, 2/3), a21 = 1/3, a32 = 2/3, b = (1/4, 0, 3/4).
          const k2 = call(tf.add(x, tf.mul(k1, h / 3)), t + h / 3);
          const k3 = call(tf.add(x, tf.mul(k2, (2 * h) / 3)), t + (2 * h) / 3);
          return tf.add(x, tf.mul(tf.add(k1, tf.mul(k3, 3)), h / 4));
        }
        case 'rk4': {
          // Kutta's 3/8 rule (torchdiffeq's 'rk4', `rk4_alt_step_func`): c = (0, 1/3, 2/3, 1),
          // k3 at x + h (k2 - k1/3), k4 at x + h (k1 - k2 + k3), b = (1, 3, 3, 1) / 8.
          const k2 = call(tf.add(x, tf.mul(k1, h / 3)), t + h / 3);
          const k3 = call(tf.add(x, tf.mul(tf.sub(k2, tf.mul(k1, 1 / 3)), h)), t + (2 * h) / 3);
          const k4 = call(tf.add(x, tf.mul(tf.add(tf.sub(k1, k2), k3), h)), t + h);
          const s = tf.addN([k1, tf.mul(tf.add(k2, k3), 3), k4]);
          return tf.add(x, tf.mul(s, h / 8));
        }
        case 'rk4-classic': {
          // Classic 4th-order Runge-Kutta (1/6, 1/3, 1/3, 1/6); torchdiffeq's `rk4_step_func`.
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
export const STAGES: Readonly<Record<FixedMethod, number>> = Object.freeze({
  euler: 1,
  midpoint: 2,
  heun: 2,
  heun2: 2,
  heun3: 3,
  rk4: 4,
  'rk4-classic': 4,
});

const SOLVE_KEYS = [
  'method',
  'timeGrid',
  'stepSize',
  'returnIntermediates',
  'checkFinite',
  'syncEvery',
  'rtol',
  'atol',
  'safety',
  'ifactor',
  'dfactor',
  'firstStep',
  'maxSteps',
] as const;

/** @internal Throws unless x0 is a non-empty float32 tensor (int32 would be misread by wasm's isFinite; an empty state has nothing to integrate). */
export function checkState(what: string, name: string, x: unknown): tf.Tensor {
  if (!(x instanceof tf.Tensor)) throw new Error(`${what}: ${name} must be a tf.Tensor, got ${describeValue(x)}`);
  if (x.isDisposed) throw new Error(`${what}: ${name} is disposed`);
  if (x.dtype !== 'float32')
    throw new Error(`${what}: ${name} must be float32, got ${x.dtype} (cast it with tf.cast(${name}, 'float32'))`);
  if (x.size === 0)
    throw new Error(`${what}: ${name} must hold at least one element, got shape [${x.shape.join(', ')}]`);
  return x;
}

/**
 * Integrates dx/dt = velocity(x, t) from x0 through the times of `timeGrid` (flow_matching's
 * `ODESolver.sample`, torchdiffeq's `odeint`). Fixed-step methods read back one scalar (the
 * NaN/Inf flag) every `syncEvery` steps and at the end; adaptive methods read their error norm
 * once per step. Bad arguments reject the promise. x0 is not disposed; the result's tensors
 * belong to the caller.
 */
export async function solveOde(velocity: VelocityFn, x0: tf.Tensor, options?: SolveOdeOptions): Promise<OdeResult> {
  if (options && typeof options === 'object' && 'steps' in options) {
    // torchdiffeq and flow_matching have no `steps` either; the nearest-name hint cannot see that stepSize is meant.
    throw new TypeError(
      `solveOde: unknown option "steps"; fixed-step solves take stepSize (n steps over [0, 1]: stepSize: 1 / n). Valid options: ${SOLVE_KEYS.join(', ')}`,
    );
  }
  const opts = checkOptions('solveOde', options, SOLVE_KEYS);
  if (typeof velocity !== 'function')
    throw new Error(`solveOde: velocity must be a function (x, t) => tf.Tensor, got ${describeValue(velocity)}`);
  checkState('solveOde', 'x0', x0);
  const method = checkMethod('solveOde', opts.method ?? 'euler', [...FIXED_METHODS, ...ADAPTIVE_METHODS]);
  const adaptive = (ADAPTIVE_METHODS as readonly string[]).includes(method);
  if (
    opts.timeGrid !== undefined &&
    (typeof opts.timeGrid !== 'object' || opts.timeGrid === null || typeof opts.timeGrid.length !== 'number')
  ) {
    throw new Error(`solveOde: timeGrid must be an array of times, got ${describeValue(opts.timeGrid)}`);
  }
  const grid = checkTimeGrid(opts.timeGrid ?? [0, 1]);
  const stepSize =
    opts.stepSize === undefined
      ? undefined
      : checkNumber('solveOde: stepSize', opts.stepSize, { min: 0, exclusiveMin: true });
  if (adaptive && stepSize !== undefined) {
    throw new Error(
      `solveOde: stepSize applies to fixed-step methods; ${method} chooses its own steps (use firstStep for its first one)`,
    );
  }
  if (!adaptive) {
    for (const k of ['safety', 'ifactor', 'dfactor', 'firstStep'] as const) {
      if (opts[k] !== undefined)
        throw new Error(
          `solveOde: ${k} applies to the adaptive methods (${ADAPTIVE_METHODS.join(', ')}), not to ${method}`,
        );
    }
  }
  const syncEvery =
    opts.syncEvery === undefined ? 16 : checkNumber('solveOde: syncEvery', opts.syncEvery, { integer: true, min: 1 });
  // rtol and atol are validated for every method (flow_matching passes them to fixed-step solves too, where they do nothing).
  const adaptiveOpts = checkAdaptiveOptions(opts);
  const checkFinite = opts.checkFinite === undefined ? true : checkBoolean('solveOde: checkFinite', opts.checkFinite);
  const returnIntermediates =
    opts.returnIntermediates === undefined
      ? false
      : checkBoolean('solveOde: returnIntermediates', opts.returnIntermediates);
  const plan = adaptive ? [] : fixedPlan(grid, stepSize, adaptiveOpts.maxSteps);
  const f = countedVelocity(velocity, checkFinite);
  const inter: tf.Tensor[] | undefined = returnIntermediates ? [x0.clone()] : undefined;
  try {
    // x0 itself joins the flag (as step -1), so NaN input is named as such rather than as the
    // velocity's fault; adaptive solves read it at once (their step-size rule would turn NaN first).
    f.watchState(x0, -1, grid[0]!);
    if (adaptive) {
      await f.check();
      const r = await integrateAdaptive(method as AdaptiveMethod, f, x0, grid, adaptiveOpts, inter);
      return { x: r.x, intermediates: inter, nfe: f.nfe, steps: r.steps, rejected: r.rejected };
    }
    const r = await integrateFixed(method as FixedMethod, f, x0, grid, plan, { syncEvery, checkFinite }, inter);
    return { x: r.x, intermediates: inter, nfe: f.nfe, steps: r.steps, rejected: 0 };
  } finally {
    f.dispose();
  }
}

/**
 * Steps per grid interval: ceil(length / stepSize) (torchdiffeq's step count for one interval),
 * bounded by maxSteps in total so that a tiny stepSize fails at once instead of running forever.
 */
function fixedPlan(grid: number[], stepSize: number | undefined, maxSteps: number): number[] {
  const plan: number[] = [];
  let total = 0;
  for (let i = 0; i + 1 < grid.length; i++) {
    const len = Math.abs(grid[i + 1]! - grid[i]!);
    const n = stepSize === undefined ? 1 : Math.max(1, Math.ceil(len / stepSize - 1e-9));
    total += n;
    if (!(total <= maxSteps)) {
      throw new Error(
        `solveOde: stepSize ${stepSize} needs ${total > 1e15 ? 'about ' + total.toExponential(2) : total}${i + 2 < grid.length ? ' or more' : ''} steps over timeGrid, more than maxSteps (${maxSteps}); use a larger stepSize or raise maxSteps`,
      );
    }
    plan.push(n);
  }
  return plan;
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
  method: FixedMethod,
  f: CountedVelocity,
  x0: tf.Tensor,
  grid: number[],
  plan: number[],
  { syncEvery, checkFinite }: { syncEvery: number; checkFinite: boolean },
  inter: tf.Tensor[] | undefined,
): Promise<{ x: tf.Tensor; steps: number }> {
  let x = x0;
  let steps = 0;
  try {
    for (let i = 0; i + 1 < grid.length; i++) {
      const a = grid[i]!;
      const b = grid[i + 1]!;
      const n = plan[i]!;
      for (let j = 0; j < n; j++) {
        const t = j === 0 ? a : a + ((b - a) * j) / n;
        const tNext = j === n - 1 ? b : a + ((b - a) * (j + 1)) / n;
        const next = fixedStep(method, f, x, t, tNext - t, steps);
        if (x !== x0 && !inter?.includes(x)) x.dispose();
        x = next;
        const last = i + 2 === grid.length && j === n - 1;
        const sync = steps % syncEvery === syncEvery - 1 && !last;
        // A non-finite state stays non-finite (x + h v with Inf or NaN in x never turns finite),
        // so testing it where the flag is read and at the end catches every overflow.
        if (sync || last) f.watchState(x, steps, tNext);
        steps++;
        if (sync) {
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

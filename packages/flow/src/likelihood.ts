import * as tf from '@tensorflow/tfjs-core';
import { checkNumber, checkOneOf, checkOptions, createRng, describeValue } from '@blockwise/tensor';
import { ensureGradients } from './gradients.js';
import { checkMethod, checkState, solveOde, STAGES, type OdeMethod, type VelocityFn } from './ode.js';

const LIKELIHOOD_KEYS = ['method', 'steps', 'rtol', 'atol', 'divergence', 'probe', 'seed', 'logP0'] as const;
const ADAPTIVE = ['dopri5', 'bosh3', 'adaptive_heun'] as const;
const METHODS = [...(Object.keys(STAGES) as OdeMethod[]), ...ADAPTIVE];

/** Options of `logLikelihood`. */
export interface LogLikelihoodOptions {
  /** Integration method (default 'rk4': torchdiffeq's, the 3/8 rule). */
  method?: OdeMethod;
  /** Steps from t = 1 back to t = 0 for fixed-step methods (default 20). */
  steps?: number;
  /** Adaptive methods' tolerances (default 1e-5 each). */
  rtol?: number;
  atol?: number;
  /** 'exact' (d backward passes per evaluation) or 'hutchinson'; default exact when dim <= 16. */
  divergence?: 'exact' | 'hutchinson';
  /** Hutchinson probe distribution (default 'rademacher'), fixed over the whole integration. */
  probe?: 'rademacher' | 'gaussian';
  /** Seed of the Hutchinson probes (default 0). */
  seed?: number;
  /** Log density of the noise at t = 0, per row (default standard normal). */
  logP0?: (x0: tf.Tensor2D) => tf.Tensor1D;
}

/** Result of `logLikelihood`. */
export interface LogLikelihoodResult {
  /** log p_1(x1) per row, in nats. */
  logLikelihood: tf.Tensor1D;
  /** The noise the data maps to at t = 0. */
  x0: tf.Tensor2D;
  nfe: number;
}

/** Standard normal log density per row of [n, d]. */
export function standardNormalLogProb(x: tf.Tensor2D): tf.Tensor1D {
  const d = x.shape[1];
  return tf.tidy(() => tf.sub(tf.mul(tf.sum(tf.square(x), 1), -0.5), (d * Math.log(2 * Math.PI)) / 2)) as tf.Tensor1D;
}

/**
 * Divergence of `velocity` at (x, t) per row: exact (sum of Jacobian diagonal, one gradient per
 * dimension) or Hutchinson's estimate eps^T J eps with a given probe eps.
 */
export function divergence(
  velocity: VelocityFn,
  x: tf.Tensor2D,
  t: number,
  probe?: tf.Tensor2D,
): { v: tf.Tensor2D; div: tf.Tensor1D } {
  const [n, d] = x.shape;
  ensureGradients('divergence');
  return tf.tidy(() => {
    const v = velocity(x, t) as tf.Tensor2D;
    if (probe) {
      const g = tf.grad((xx: tf.Tensor) => tf.add(tf.sum(tf.mul(velocity(xx, t), probe)), tf.mul(tf.sum(xx), 0)))(x);
      return { v, div: tf.sum(tf.mul(g, probe), 1) as tf.Tensor1D };
    }
    const cols: tf.Tensor[] = [];
    for (let i = 0; i < d; i++) {
      // Rows are independent samples, so d(sum_b v[b, i]) / dx[b, :] is row b's Jacobian row i.
      // The 0 * sum(x) term keeps a path from x when the field ignores x (divergence 0).
      const g = tf.grad((xx: tf.Tensor) =>
        tf.add(tf.sum(tf.slice(velocity(xx, t), [0, i], [n, 1])), tf.mul(tf.sum(xx), 0)),
      )(x);
      cols.push(tf.slice(g, [0, i], [n, 1]));
    }
    return { v, div: tf.reshape(tf.addN(cols), [n]) as tf.Tensor1D };
  });
}

/**
 * Log-likelihood of data x1 [n, d] under the flow of `velocity` by the instantaneous change of
 * variables: integrate [x, L] from t = 1 to 0 with dL/dt = div v; then log p1(x1) = log p0(x0) + L(0).
 * Asynchronous like `solveOde` (bad arguments reject the promise).
 */
export async function logLikelihood(
  velocity: VelocityFn,
  x1: tf.Tensor2D,
  options?: LogLikelihoodOptions,
): Promise<LogLikelihoodResult> {
  const opts = checkOptions('logLikelihood', options, LIKELIHOOD_KEYS);
  if (typeof velocity !== 'function')
    throw new Error(`logLikelihood: velocity must be a function (x, t) => tf.Tensor, got ${describeValue(velocity)}`);
  checkState('logLikelihood', 'x1', x1);
  if (x1.rank !== 2)
    throw new Error(`logLikelihood: x1 must be a 2-D tf.Tensor [n, d], got shape [${x1.shape.join(', ')}]`);
  const [n, d] = x1.shape;
  const method = checkMethod('logLikelihood', opts.method ?? 'rk4', METHODS);
  const adaptive = (ADAPTIVE as readonly string[]).includes(method);
  if (adaptive && opts.steps !== undefined)
    throw new Error(`logLikelihood: steps applies to fixed-step methods; ${method} chooses its own steps`);
  const steps =
    opts.steps === undefined
      ? 20
      : checkNumber('logLikelihood: steps', opts.steps, { integer: true, min: 1, max: 1e6 });
  const mode = checkOneOf('logLikelihood: divergence', opts.divergence ?? (d <= 16 ? 'exact' : 'hutchinson'), [
    'exact',
    'hutchinson',
  ] as const);
  const probeKind = checkOneOf('logLikelihood: probe', opts.probe ?? 'rademacher', ['rademacher', 'gaussian'] as const);
  const seed = opts.seed === undefined ? 0 : checkNumber('logLikelihood: seed', opts.seed, { integer: true });
  if (opts.logP0 !== undefined && typeof opts.logP0 !== 'function')
    throw new Error(
      `logLikelihood: logP0 must be a function x0 => log density per row, got ${describeValue(opts.logP0)}`,
    );
  let probe: tf.Tensor2D | undefined;
  if (mode === 'hutchinson') {
    const rng = createRng(seed);
    const a = new Float32Array(n * d);
    if (probeKind === 'gaussian') rng.fillNormal(a);
    else for (let i = 0; i < a.length; i++) a[i] = rng.next() < 0.5 ? -1 : 1;
    probe = tf.tensor2d(a, [n, d]);
  }
  const aug: VelocityFn = (z, t) =>
    tf.tidy(() => {
      const x = tf.slice(z, [0, 0], [n, d]) as tf.Tensor2D;
      const { v, div } = divergence(velocity, x, t, probe);
      return tf.concat([v, tf.reshape(div, [n, 1])], 1);
    });
  const z1 = tf.tidy(() => tf.concat([x1, tf.zeros([n, 1])], 1));
  try {
    const r = await solveOde(aug, z1, {
      method,
      timeGrid: [1, 0],
      ...(adaptive ? {} : { stepSize: 1 / steps }),
      ...(opts.rtol === undefined ? {} : { rtol: opts.rtol }),
      ...(opts.atol === undefined ? {} : { atol: opts.atol }),
    });
    const out = tf.tidy(() => {
      const x0 = tf.slice(r.x, [0, 0], [n, d]) as tf.Tensor2D;
      const L = tf.reshape(tf.slice(r.x, [0, d], [n, 1]), [n]);
      const lp0 = (opts.logP0 ?? standardNormalLogProb)(x0);
      return { logLikelihood: tf.add(lp0, L) as tf.Tensor1D, x0 };
    });
    r.x.dispose();
    return { ...out, nfe: r.nfe };
  } finally {
    z1.dispose();
    probe?.dispose();
  }
}

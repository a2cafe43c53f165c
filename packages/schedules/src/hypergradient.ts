/**
 * Hypergradient learning rate (FedHyper-style, after Baydin et al. arXiv 1703.04782): the LR moves with the inner
 * product of successive updates (aligned updates: raise it; opposed: lower it), clipped to [minLr, maxLr].
 * The state is an explicit plain object so it can be checkpointed.
 */
import { arrayLike, finite, knownKeys, nonNegative, objectArg, positive } from './validate.js';

/** Options of the hypergradient rule. */
export interface HypergradientOptions {
  /** LR before the first update. */
  initialLr: number;
  /** Hyper learning rate beta. */
  hyperLr: number;
  minLr?: number;
  maxLr?: number;
  /** Use the cosine of the angle between updates instead of the raw inner product (scale-free; default false). */
  normalize?: boolean;
}

/** Everything the rule remembers: JSON-serialisable. */
export interface HypergradientState {
  lr: number;
  step: number;
  /** The previous update (or gradient), flattened; null before the first. */
  previous: number[] | null;
}

function check(options: HypergradientOptions) {
  objectArg('options', options);
  knownKeys('hypergradient', options, ['initialLr', 'hyperLr', 'minLr', 'maxLr', 'normalize']);
  const min = nonNegative('minLr', options.minLr ?? 0);
  const max = options.maxLr === undefined ? Infinity : positive('maxLr', options.maxLr);
  if (min > max) throw new RangeError(`minLr (${min}) must be <= maxLr (${max})`);
  return {
    init: nonNegative('initialLr', options.initialLr),
    beta: nonNegative('hyperLr', options.hyperLr),
    min,
    max,
    normalize: options.normalize ?? false,
  };
}

/** The state before any update. */
export function hypergradientInit(options: HypergradientOptions): HypergradientState {
  const o = check(options);
  return { lr: Math.min(o.max, Math.max(o.min, o.init)), step: 0, previous: null };
}

/**
 * One step of the rule, pure: given this step's update (or gradient: the sign of the product is the same) returns
 * the next state; lr_{t+1} = clip(lr_t + beta * <u_t, u_{t-1}>, minLr, maxLr).
 */
export function hypergradientStep(
  state: HypergradientState,
  update: ArrayLike<number>,
  options: HypergradientOptions,
): HypergradientState {
  const o = check(options);
  objectArg('state', state);
  finite('state.lr', state.lr);
  arrayLike('update', update);
  const u = Array.from(update, (v, i) => finite(`update[${i}]`, v));
  let lr = state.lr;
  if (state.previous) {
    if (state.previous.length !== u.length)
      throw new RangeError(`update has ${u.length} entries but the previous one had ${state.previous.length}`);
    let dot = 0;
    let na = 0;
    let nb = 0;
    for (let i = 0; i < u.length; i++) {
      const a = u[i]!;
      const b = state.previous[i]!;
      dot += a * b;
      na += a * a;
      nb += b * b;
    }
    const h = o.normalize ? (na > 0 && nb > 0 ? dot / Math.sqrt(na * nb) : 0) : dot;
    lr = Math.min(o.max, Math.max(o.min, lr + o.beta * h));
  }
  return { lr, step: state.step + 1, previous: u };
}

/** A stateful wrapper around {@link hypergradientStep}. */
export interface HypergradientLR {
  /** The LR to use for the next update. */
  readonly lr: number;
  /** Feeds this step's update; returns the LR for the next one. */
  observe(update: ArrayLike<number>): number;
  /** A copy of the state (for checkpoints). */
  getState(): HypergradientState;
  setState(state: HypergradientState): void;
}

/** Creates a hypergradient LR controller, optionally resuming from a saved state. */
export function createHypergradientLR(options: HypergradientOptions, state?: HypergradientState): HypergradientLR {
  if (state !== undefined) objectArg('state', state);
  let s = state ? { ...state, previous: state.previous ? [...state.previous] : null } : hypergradientInit(options);
  finite('state.lr', s.lr);
  return {
    get lr() {
      return s.lr;
    },
    observe(update) {
      s = hypergradientStep(s, update, options);
      return s.lr;
    },
    getState: () => ({ ...s, previous: s.previous ? [...s.previous] : null }),
    setState(next) {
      finite('state.lr', next.lr);
      s = { ...next, previous: next.previous ? [...next.previous] : null };
    },
  };
}

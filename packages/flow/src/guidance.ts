import * as tf from '@tensorflow/tfjs-core';
import { checkOptions } from '@blockwise/tensor';
import type { VelocityFn } from './ode.js';

/**
 * How a guidance scale is read. The two are the same family with g = 1 + w:
 * - 'ho-salimans' (Ho & Salimans 2022, flow_matching's examples): v = (1 + w) v_cond - w v_uncond; w = 0 is plain conditional.
 * - 'diffusers' (`guidance_scale`): v = v_uncond + g (v_cond - v_uncond); g = 1 is plain conditional.
 */
export type GuidanceConvention = 'ho-salimans' | 'diffusers';

/** Options of classifier-free guidance; the convention has no default on purpose. */
export interface GuidanceOptions {
  scale: number;
  convention: GuidanceConvention;
}

function checkGuidance(opts: GuidanceOptions): void {
  if (opts === undefined)
    throw new Error("guidance options { scale, convention } are required (convention 'ho-salimans' or 'diffusers')");
  checkOptions('guidance', opts, ['scale', 'convention']);
  if (opts.convention !== 'ho-salimans' && opts.convention !== 'diffusers') {
    throw new Error(`convention must be 'ho-salimans' or 'diffusers', got ${String(opts?.convention)}`);
  }
  if (!Number.isFinite(opts.scale)) throw new Error(`scale must be a finite number, got ${opts.scale}`);
}

/** Combines a conditional and an unconditional velocity with the named convention. */
export function guidedVelocity(vCond: tf.Tensor, vUncond: tf.Tensor, opts: GuidanceOptions): tf.Tensor {
  checkGuidance(opts);
  if (vCond.shape.join() !== vUncond.shape.join()) {
    throw new Error(
      `vCond and vUncond must have the same shape, got [${vCond.shape.join(', ')}] and [${vUncond.shape.join(', ')}]`,
    );
  }
  const g = opts.convention === 'diffusers' ? opts.scale : 1 + opts.scale;
  return tf.tidy(() => tf.add(vUncond, tf.mul(tf.sub(vCond, vUncond), g)));
}

/**
 * A guided velocity field from a model that takes a condition or `null` (unconditional):
 * two model calls per evaluation, combined with `guidedVelocity`.
 */
export function classifierFreeGuidance(
  model: (x: tf.Tensor, t: number, cond: tf.Tensor | null) => tf.Tensor,
  cond: tf.Tensor,
  opts: GuidanceOptions,
): VelocityFn {
  checkGuidance(opts);
  return (x, t) => tf.tidy(() => guidedVelocity(model(x, t, cond), model(x, t, null), opts));
}

import { assertGradients } from '@blockwise/tensor';

/**
 * tfjs-core alone registers no gradients; `initBackend` of @blockwise/tensor loads them (from
 * tfjs-core under bundlers, from @tensorflow/tfjs-layers or @tensorflow/tfjs in plain Node).
 * Training and divergences call this first, so a missing package is named up front instead of
 * "gradient function not found" deep inside backprop (or "call initBackend()" after the caller did).
 */
export function ensureGradients(what: string): void {
  assertGradients(what);
}

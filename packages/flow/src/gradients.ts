import * as tf from '@tensorflow/tfjs-core';

/**
 * tfjs-core alone registers no gradients; `initBackend` of @blockwise/tensor (or importing
 * @tensorflow/tfjs or tfjs-layers) does. Training and divergences call this first for a clear error.
 */
export function ensureGradients(what: string): void {
  if (!tf.getGradient('BatchMatMul') || !tf.getGradient('Sum')) {
    throw new Error(
      `${what} needs tfjs gradients: call initBackend() from @blockwise/tensor, or import @tensorflow/tfjs or @tensorflow/tfjs-layers, first`,
    );
  }
}

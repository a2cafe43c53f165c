import type { Mask } from './matrix.js';

/** The masks of a pruned model, by layer name: `mask` has the kernel's layout `[inDim, outDim]` (Conv2D: `[kh * kw * cin, cout]`), 1 = kept. */
export type PruningMasks = Record<string, { shape: [number, number]; mask: Mask }>;

/** What pruning did to one layer. */
export interface LayerReport {
  name: string;
  /** Kernel shape `[inDim, outDim]`. */
  shape: [number, number];
  /** Density asked for (fraction kept). */
  targetDensity: number;
  /** Density reached (fraction of kernel weights kept). */
  density: number;
  /**
   * Estimated loss change: the mean squared change of this layer's output on the calibration
   * inputs it saw, sum_j dW_j^T (X^T X / n) dW_j; null without a Gram matrix.
   */
  estimatedLossChange: number | null;
  /** Milliseconds spent on this layer (statistics, mask, write-back). */
  timeMs: number;
}

/** What a model-level pruning call did. */
export interface PruneReport {
  method: 'magnitude' | 'wanda' | 'sparsegpt' | 'icbs';
  /** Kept fraction over all pruned kernels. */
  density: number;
  layers: LayerReport[];
  /** Sum of the layers' estimates; null when any layer has none. */
  estimatedLossChange: number | null;
  /**
   * Measured on the calibration set: loss(after) - loss(before) when `calibration.y` and `loss`
   * are given (`measure: 'loss'`), else the mean squared change of the model outputs
   * (`measure: 'outputMSE'`); null without calibration.
   */
  measuredLossChange: number | null;
  measure: 'loss' | 'outputMSE' | null;
  /** Total milliseconds. */
  timeMs: number;
  /** The masks applied, by layer name. */
  masks: PruningMasks;
  /** Method-specific details per layer (iCBS: objective before/after, steps, accepted). */
  details?: Record<string, Record<string, number>>;
}

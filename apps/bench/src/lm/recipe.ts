import { AdamW } from '@blockwise/optimizers';
import { warmupStableDecay } from '@blockwise/schedules';
import { createRng } from '@blockwise/tensor';
import * as tf from '@tensorflow/tfjs-core';
import { greedyWindows } from './distill.js';
import { createLm, type LmConfig, type LmWeights } from './model.js';
import { trainLm, type TrainLog } from './train.js';

/**
 * Sizes and steps of the shipped character models, chosen by measurement on the shared 2-core
 * machine (wasm): a causal step of dim 96 x 4 layers x batch 24 x 64 characters took 0.45-1.5 s
 * and a conversion step (batch 24, three streams of the window) 1.5-2.4 s, with tfjs-wasm's
 * matmuls routed through XNNPACK (@blockwise/tensor; 1.4x faster causal and 2.2x faster
 * conversion steps than without, measured side by side). The shipped run (the rerun that
 * reproduced both checkpoints byte for byte, load average 2-3): causal 665 s (val 1.766
 * nats/char), distillation windows about 8 minutes, conversion 443 s (300 steps = 20% of the
 * causal steps). See `README.md` in this folder.
 */
export interface LmRecipe {
  arch: Omit<LmConfig, 'vocab'>;
  len: number;
  batch: number;
  causalSteps: number;
  /** Conversion steps; the papers' "cheap conversion" claim asks for at most 20% of `causalSteps`. */
  convertSteps: number;
  peakLr: number;
  /** Conversion: batch (windows per step) and peak learning rate (it starts from trained weights). */
  convertBatch: number;
  convertLr: number;
  /** Conversion: weight of the clean stream's next-token loss (`NoiseOptions.arWeight`). */
  convertArWeight: number;
  /** Conversion: how blocks are noised (`NoiseOptions.pattern`). */
  convertPattern: 'uniform' | 'suffix';
  /**
   * Conversion: sequence-level distillation (`greedyWindows`): how many windows of `promptLen`
   * characters of training text plus the causal model's greedy continuation to `len` characters
   * to generate, and the share of each conversion batch drawn from them (0: none).
   */
  convertDistill: { windows: number; fraction: number; promptLen: number };
  /** Block sizes the conversion samples from, one per step (decoding uses any of them). */
  blockSizes: number[];
}

/** The recipe of the shipped `lm/causal` and `lm/block-diffusion` checkpoints. */
export const SHIPPED_RECIPE: LmRecipe = {
  arch: { dim: 96, heads: 3, layers: 4, maxLen: 64 },
  len: 64,
  batch: 24,
  causalSteps: 1500,
  convertSteps: 300,
  peakLr: 3e-3,
  convertBatch: 24,
  convertLr: 2e-3,
  convertArWeight: 0.25,
  convertPattern: 'suffix',
  convertDistill: { windows: 6000, fraction: 0.75, promptLen: 16 },
  blockSizes: [4, 8, 16],
};

/** WSD schedule (warm-up 5%, stable to 70%, 1-sqrt decay to 10%) over `steps`. */
export function recipeSchedule(peak: number, steps: number): (step: number) => number {
  const warm = Math.max(1, Math.round(steps * 0.05));
  const stable = Math.round(steps * 0.7) - warm;
  return warmupStableDecay({
    peakValue: peak,
    warmupSteps: warm,
    stableSteps: stable,
    decaySteps: steps - warm - stable,
    minRatio: 0.1,
    decayShape: '1-sqrt',
  });
}

/** A recipe stage's result: the weights (caller disposes) and the training log. */
export interface StageResult {
  weights: LmWeights;
  log: TrainLog;
}

/**
 * Trains one stage of the recipe: causal from random weights, or block diffusion from `init`
 * (the conversion: same weights, new mask and loss) or from random weights when `init` is absent.
 */
export async function trainStage(
  stage: 'causal' | 'blockDiffusion',
  r: LmRecipe,
  vocab: number,
  train: Int32Array,
  maskId: number,
  seed: number,
  opts: {
    steps: number;
    init?: LmWeights;
    /** Block diffusion: distillation windows of `r.len` tokens (`greedyWindows`). */
    distillWindows?: Int32Array;
    name: string;
    progress?: (done: number, total: number, loss: number) => void;
  },
): Promise<StageResult> {
  const w = createLm({ ...r.arch, vocab }, createRng(seed + 100), opts.name);
  if (opts.init) w.vars.forEach((v, k) => v.assign(opts.init!.vars[k]!));
  const convert = stage === 'blockDiffusion' && opts.init !== undefined;
  const lr = recipeSchedule(convert ? r.convertLr : r.peakLr, opts.steps);
  const opt = new AdamW({ learningRate: lr, weightDecay: 0.1 });
  const rng = createRng(seed + (stage === 'causal' ? 7 : 8));
  const log = await trainLm(w, train, opt, {
    steps: opts.steps,
    batch: stage === 'causal' ? r.batch : r.convertBatch,
    len: r.len,
    mode: stage,
    arWeight: stage === 'causal' ? 0 : r.convertArWeight,
    pattern: r.convertPattern,
    distill:
      stage === 'blockDiffusion' && opts.distillWindows && r.convertDistill.fraction > 0
        ? { windows: opts.distillWindows, fraction: r.convertDistill.fraction }
        : undefined,
    blockSize: (s) => r.blockSizes[(s * 7919 + seed) % r.blockSizes.length]!,
    maskId,
    learningRate: lr,
    rng,
    progress: opts.progress,
  });
  opt.dispose();
  return { weights: w, log };
}

/**
 * The conversion's distillation windows (`LmRecipe.convertDistill`): greedy continuations of
 * `causal` after prompts drawn from `train` with a seed derived from `seed`; undefined when the
 * recipe distils nothing.
 */
export async function distillWindows(
  r: LmRecipe,
  causal: LmWeights,
  train: Int32Array,
  maskId: number,
  seed: number,
  progress?: (done: number, total: number) => void,
): Promise<Int32Array | undefined> {
  const d = r.convertDistill;
  if (d.windows === 0 || d.fraction === 0) return undefined;
  return greedyWindows(
    causal,
    train,
    d.windows,
    d.promptLen,
    r.len - d.promptLen,
    createRng(seed + 9),
    maskId,
    progress,
  );
}

/** The weights as a name -> tensor map for `saveCheckpoint` (names without the model's prefix). */
export function lmTensors(w: LmWeights): tf.NamedTensorMap {
  const out: tf.NamedTensorMap = {};
  for (const v of w.vars) out[v.name.slice(v.name.indexOf('/') + 1)] = v;
  return out;
}

/** A model built from checkpoint tensors (disposes them); throws naming a missing or misshapen weight. */
export function lmFromTensors(config: LmConfig, tensors: tf.NamedTensorMap, name: string): LmWeights {
  const w = createLm(config, createRng(0), name);
  for (const v of w.vars) {
    const key = v.name.slice(v.name.indexOf('/') + 1);
    const t = tensors[key];
    if (!t) throw new Error(`checkpoint for ${name}: weight ${JSON.stringify(key)} is missing`);
    if (t.shape.join() !== v.shape.join())
      throw new Error(`checkpoint for ${name}: weight ${key} has shape [${t.shape}], the model expects [${v.shape}]`);
    v.assign(t);
  }
  tf.dispose(Object.values(tensors));
  return w;
}

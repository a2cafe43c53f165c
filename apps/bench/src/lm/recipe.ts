import { AdamW } from '@blockwise/optimizers';
import { warmupStableDecay } from '@blockwise/schedules';
import { createRng } from '@blockwise/tensor';
import * as tf from '@tensorflow/tfjs-core';
import { createLm, type LmConfig, type LmWeights } from './model.js';
import { trainLm, type TrainLog } from './train.js';

/**
 * Sizes and steps of the shipped character models, chosen by measurement on a shared 2-core
 * machine (wasm): about 0.35 s per causal step and 1.5 s per conversion step unloaded (the
 * conversion runs three streams of the window), so both stages train in about half an hour; the
 * shipped run took 25 min for the causal stage and 20 min for the conversion (200 steps) under a load
 * of 15-30.
 */
export interface LmRecipe {
  arch: Omit<LmConfig, 'vocab'>;
  len: number;
  batch: number;
  causalSteps: number;
  /** Conversion steps; the papers' "cheap conversion" claim asks for at most 20% of `causalSteps`. */
  convertSteps: number;
  peakLr: number;
  /** Block sizes the conversion samples from, one per step (decoding uses any of them). */
  blockSizes: number[];
}

/** The recipe of the shipped `lm/causal` and `lm/block-diffusion` checkpoints. */
export const SHIPPED_RECIPE: LmRecipe = {
  arch: { dim: 64, heads: 4, layers: 3, maxLen: 64 },
  len: 64,
  batch: 16,
  causalSteps: 2000,
  convertSteps: 200,
  peakLr: 3e-3,
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
    name: string;
    progress?: (done: number, total: number, loss: number) => void;
  },
): Promise<StageResult> {
  const w = createLm({ ...r.arch, vocab }, createRng(seed + 100), opts.name);
  if (opts.init) w.vars.forEach((v, k) => v.assign(opts.init!.vars[k]!));
  const lr = recipeSchedule(r.peakLr, opts.steps);
  const opt = new AdamW({ learningRate: lr, weightDecay: 0.1 });
  const rng = createRng(seed + (stage === 'causal' ? 7 : 8));
  const log = await trainLm(w, train, opt, {
    steps: opts.steps,
    batch: r.batch,
    len: r.len,
    mode: stage,
    blockSize: (s) => r.blockSizes[(s * 7919 + seed) % r.blockSizes.length]!,
    maskId,
    learningRate: lr,
    rng,
    progress: opts.progress,
  });
  opt.dispose();
  return { weights: w, log };
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

import { frechetDistance, slicedWasserstein, type BlockwiseFlow, type Classifier } from '@blockwise/flow';
import { createRng } from '@blockwise/tensor';
import * as tf from '@tensorflow/tfjs-core';
import { toPixels, type FlowData } from './models.js';
import { checkerboardInCells, confidentShare } from './quality.js';

/** Quality of one model sampled with one step count. */
export interface FlowEval {
  steps: number;
  method: 'euler';
  /** Residual approximation of the features used (only models with feature guidance). */
  residual: boolean;
  flopsPerSample: number;
  nfe: number;
  sampleMs: number;
  sw2: number;
  /** Checkerboard: share of samples in the data cells. */
  inCells?: number;
  /** Digits: Fréchet distance of classifier features to the held-out digits. */
  fd?: number;
  /** Digits: share classified with confidence >= 0.9. */
  confident?: number;
  /** The samples (flow space), row-major. */
  x: Float32Array;
}

/** What evaluation compares against, computed once per data set. */
export interface FlowReference {
  data: FlowData;
  clf: Classifier;
  /** Digits: classifier features of the held-out digits. */
  refFeatures?: Float32Array;
  /** Samples drawn per evaluation. */
  n: number;
}

/** The reference of a data set: n samples (at most the held-out count for digits). */
export async function flowReference(data: FlowData, clf: Classifier, n: number): Promise<FlowReference> {
  const refFeatures = data.dataset === 'digits' ? await clf.features(data.refPixels!) : undefined;
  return { data, clf, refFeatures, n };
}

/**
 * Samples `model` from the same seeded noise at every step count (Euler) and scores the samples.
 * Reads back once per sampling (the samples) besides the solver's finite-check.
 */
export async function evaluateFlow(
  model: BlockwiseFlow,
  ref: FlowReference,
  stepCounts: number[],
  seed: number,
  residual = true,
): Promise<FlowEval[]> {
  const { data, clf, n } = ref;
  const x0 = createRng(seed).normalTensor([n, data.dim]) as tf.Tensor2D;
  const out: FlowEval[] = [];
  try {
    for (const steps of stepCounts) {
      const t0 = performance.now();
      const r = await model.sample(x0, { steps, method: 'euler', residual });
      let x: Float32Array;
      try {
        x = Float32Array.from((await r.x.data()) as Float32Array);
      } finally {
        r.x.dispose();
      }
      const sampleMs = performance.now() - t0;
      const e: FlowEval = {
        steps,
        method: 'euler',
        residual: residual && !!model.guidance?.residualNet,
        flopsPerSample: r.flopsPerSample,
        nfe: r.nfe,
        sampleMs,
        sw2: slicedWasserstein(x, data.ref.subarray(0, Math.min(data.ref.length, n * data.dim)), data.dim, {
          projections: 128,
          seed: 5,
        }),
        x,
      };
      if (data.dataset === 'checkerboard') e.inCells = checkerboardInCells(x);
      else {
        const px = toPixels(x);
        e.fd = frechetDistance(await clf.features(px), ref.refFeatures!, clf.featureDim);
        e.confident = (await confidentShare(clf, px)).share;
      }
      out.push(e);
    }
  } finally {
    x0.dispose();
  }
  return out;
}

/** One line per step count, for logs. */
export function describeEvals(label: string, evals: FlowEval[]): string {
  return evals
    .map((e) => {
      const q =
        e.inCells !== undefined
          ? `in cells ${(100 * e.inCells).toFixed(1)}%`
          : `FD ${e.fd!.toFixed(2)}, confident ${(100 * e.confident!).toFixed(1)}%`;
      return `${label} ${e.steps} steps${e.residual ? '' : ''}: ${q}, SW2 ${e.sw2.toFixed(4)}, ${e.flopsPerSample.toExponential(2)} FLOP`;
    })
    .join('\n');
}

import { loadavg } from 'node:os';
import { frechetDistance, type BlockwiseFlow, type Classifier } from '@blockwise/flow';
import { confidentShare } from './quality.js';
import * as tf from '@tensorflow/tfjs-core';
import { hasCheckpoint, loadCheckpoint, saveCheckpoint, type CheckpointMeta } from '../checkpoints.js';
import { describeEvals, evaluateFlow, flowReference, type FlowEval } from './evaluate.js';
import {
  buildFlow,
  checkerboardFlowData,
  checkerCell,
  classifierFromTensors,
  classifierSpec,
  classifierTensors,
  digitsFlowData,
  flowSpecs,
  flowTensors,
  loadFlowWeights,
  trainFlow,
  trainFlowClassifier,
  type FlowData,
  type FlowDataset,
  type FlowModelSpec,
} from './models.js';

/** Step counts every model is scored at (Euler): BFM needs a multiple of K. */
export const evalStepCounts = [4, 8, 16, 32, 64];
/** Checkerboard samples per evaluation (and held-out reference points). */
export const checkerboardEvalSamples = 2000;

/** Data seeds derived from the training seed, recorded in the classifier checkpoints' meta. */
export function dataSeeds(seed: number): { checkerboard: number; digitsSplit: number } {
  return { checkerboard: seed, digitsSplit: seed + 2 };
}

/** The data set as the checkpoints of `seed` were trained on it. */
export function flowData(
  dataset: FlowDataset,
  seed: number,
  digits: { x: Float32Array; y: Int32Array; n: number },
): FlowData {
  const s = dataSeeds(seed);
  return dataset === 'digits'
    ? digitsFlowData(digits, s.digitsSplit)
    : checkerboardFlowData(s.checkerboard, checkerboardEvalSamples);
}

/** Checkpoint names: `flow/<dataset>-classifier` and `flow/<spec id>`. */
export const classifierCheckpoint = (dataset: FlowDataset): string => `flow/${dataset}-classifier`;
export const flowCheckpoint = (spec: FlowModelSpec): string => `flow/${spec.id}`;

/** Evaluations as JSON for the meta (samples dropped). */
function evalsMeta(evals: FlowEval[]): Record<string, unknown>[] {
  return evals.map(({ x: _x, ...rest }) => rest);
}

/** Trains one flow model of `spec` from scratch (steps possibly overridden). */
export async function trainOneFlow(
  spec: FlowModelSpec,
  data: FlowData,
  clf: Classifier,
  seed: number,
  log: (m: string) => void,
  stepsOverride?: number,
): Promise<{
  spec: FlowModelSpec;
  model: BlockwiseFlow;
  losses: [number, number][];
  trainMs: number;
  optimizerStateBytes: number;
}> {
  const s: FlowModelSpec = stepsOverride ? { ...spec, train: { ...spec.train, steps: stepsOverride } } : spec;
  const model = buildFlow(s, clf, seed + 10);
  const every = Math.max(1, Math.round(s.train.steps / 10 / 50)) * 50;
  const r = await trainFlow(model, s, data, seed + 20, (step, loss) => {
    if (step % every === 0 || step === s.train.steps - 1)
      log(`${s.id}: step ${step}/${s.train.steps}, loss ${loss.toFixed(4)}`);
  });
  return { spec: s, model, ...r };
}

/** Mean of the last five logged losses (one logged loss is noisy). */
export function finalLoss(losses: [number, number][]): number {
  const tail = losses.slice(-5);
  return tail.reduce((a, [, v]) => a + v, 0) / Math.max(1, tail.length);
}

/** Options of `trainFlowModels`. */
export interface TrainFlowModelsOptions {
  seed: number;
  digits: { x: Float32Array; y: Int32Array; n: number };
  /** Ids to (re)train, e.g. `checkerboard-single`, `digits-classifier` (default: all). */
  only?: string[];
  stepsOverride?: number;
  /** Folder of checkpoint `name` (default: the shipped folder). */
  saveDir?: (name: string) => string;
  command: string;
  log: (m: string) => void;
}

/** Loads the shipped classifier of `dataset`, or undefined when none is shipped. */
export function loadFlowClassifier(
  dataset: FlowDataset,
  dir?: string,
): { clf: Classifier; meta: CheckpointMeta } | undefined {
  const name = classifierCheckpoint(dataset);
  if (!dir && !hasCheckpoint(name)) return undefined;
  const ck = loadCheckpoint(name, dir);
  try {
    return { clf: classifierFromTensors(dataset, ck.tensors), meta: ck.meta };
  } finally {
    tf.dispose(Object.values(ck.tensors));
  }
}

/** Loads shipped flow model `spec`, or undefined when it is not shipped. */
export function loadFlowModel(
  spec: FlowModelSpec,
  dir?: string,
): { model: BlockwiseFlow; meta: CheckpointMeta } | undefined {
  const name = flowCheckpoint(spec);
  if (!dir && !hasCheckpoint(name)) return undefined;
  const ck = loadCheckpoint(name, dir);
  const model = buildFlow(spec);
  try {
    loadFlowWeights(model, ck.tensors);
  } catch (e) {
    model.dispose();
    throw new Error(`${name}: ${(e as Error).message} (retrain it: ${String(ck.meta.command)})`, { cause: e });
  } finally {
    tf.dispose(Object.values(ck.tensors));
  }
  return { model, meta: ck.meta };
}

/** The training script's work: classifiers and flow models of both data sets, trained, scored and saved. */
export async function trainFlowModels(o: TrainFlowModelsOptions): Promise<void> {
  const wanted = (id: string): boolean => !o.only || o.only.includes(id);
  for (const dataset of ['checkerboard', 'digits'] as const) {
    const data = flowData(dataset, o.seed, o.digits);
    const clfId = `${dataset}-classifier`;
    let clf: Classifier;
    if (wanted(clfId) || !loadFlowClassifier(dataset)) {
      const t0 = performance.now();
      clf = trainFlowClassifier(data, o.seed);
      const acc =
        dataset === 'digits'
          ? await clf.accuracy(data.refPixels!, data.refLabels!)
          : await clf.accuracy(
              data.ref,
              Int32Array.from({ length: data.ref.length / 2 }, (_, i) =>
                checkerCell(data.ref[2 * i]!, data.ref[2 * i + 1]!),
              ),
            );
      o.log(
        `${clfId}: held-out accuracy ${(100 * acc).toFixed(1)}% (${((performance.now() - t0) / 1000).toFixed(1)} s)`,
      );
      const name = classifierCheckpoint(dataset);
      await saveCheckpoint(
        name,
        classifierTensors(clf),
        {
          command: o.command,
          seed: o.seed,
          dataset,
          architecture: { ...classifierSpec[dataset], activation: 'relu' },
          dataSeeds: dataSeeds(o.seed),
          heldOutAccuracy: acc,
        },
        o.saveDir?.(name),
      );
    } else {
      clf = loadFlowClassifier(dataset)!.clf;
    }
    const ref = await flowReference(data, clf, dataset === 'digits' ? data.ref.length / 64 : checkerboardEvalSamples);
    if (dataset === 'digits') {
      const floor = frechetDistance(
        await clf.features(data.trainPixels!.subarray(0, ref.n * 64)),
        ref.refFeatures!,
        clf.featureDim,
      );
      o.log(
        `digits real-vs-real Fréchet floor ${floor.toFixed(3)}, real held-out digits confident ${(100 * (await confidentShare(clf, data.refPixels!)).share).toFixed(1)}%`,
      );
    }
    for (const spec of flowSpecs(dataset)) {
      if (!wanted(spec.id)) continue;
      const loadBefore = loadavg()[0]!;
      const t = await trainOneFlow(spec, data, clf, o.seed, o.log, o.stepsOverride);
      const loadAfter = loadavg()[0]!;
      const evals = await evaluateFlow(t.model, ref, evalStepCounts, o.seed + 7);
      o.log(
        `${spec.id}: trained in ${(t.trainMs / 1000).toFixed(1)} s, final loss ${finalLoss(t.losses).toFixed(4)}\n${describeEvals(spec.id, evals)}`,
      );
      const name = flowCheckpoint(spec);
      await saveCheckpoint(
        name,
        flowTensors(t.model),
        {
          command: o.command,
          seed: o.seed,
          dataset,
          label: spec.label,
          architecture: {
            K: spec.K,
            hidden: spec.hidden,
            features: spec.features ?? null,
            activation: spec.activation,
            frequencies: 6,
            stateFeatures: spec.stateFeatures ?? null,
          },
          training: {
            ...t.spec.train,
            optimizer: `${t.spec.train.optimizer ?? 'AdamW'} (weightDecay 0)`,
            schedule:
              t.spec.train.schedule === 'wsd'
                ? 'warmupStableDecay (75% stable, cosine decay to 2% of the peak)'
                : 'warmupCosineDecay to 2% of the peak',
            stratified: spec.K > 1,
          },
          trainMs: Math.round(t.trainMs),
          // The machine's 1-minute load average when training started and ended (2 cores, shared):
          // trainMs is a wall time under that load.
          loadAverage: [Number(loadBefore.toFixed(2)), Number(loadAfter.toFixed(2))],
          optimizerStateBytes: t.optimizerStateBytes,
          finalLoss: finalLoss(t.losses),
          losses: t.losses.filter((_, i) => i % 4 === 0 || i === t.losses.length - 1),
          metrics: evalsMeta(evals),
        },
        o.saveDir?.(name),
      );
      t.model.dispose();
    }
    clf.dispose();
  }
}

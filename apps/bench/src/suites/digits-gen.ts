import { frechetDistance } from '@blockwise/flow';
import type { BlockwiseFlow } from '@blockwise/flow';
import { evaluateFlow, flowReference, type FlowEval } from '../flowmodels/evaluate.js';
import { digitsGenSpecs, digitsGrid, flowSpecs, type FlowModelSpec } from '../flowmodels/models.js';
import {
  finalLoss,
  flowCheckpoint,
  flowData,
  loadFlowClassifier,
  loadFlowModel,
  trainOneFlow,
} from '../flowmodels/pipeline.js';
import { confidentShare } from '../flowmodels/quality.js';
import type { Check, Result, Suite, SuiteContext } from '../suite.js';

/**
 * Euler steps of the samples. The shipped BFM K = 2 (flow suite's noise, 539 digits): FD 18.3 and
 * 79.8% confident at 16 steps, 16.0 and 79.8% at 32, 15.0 and 80.5% at 64; sampling 539 digits
 * at 64 steps takes well under a second.
 */
const SAMPLE_STEPS = 64;

function result(
  name: string,
  spec: FlowModelSpec,
  source: 'shipped' | 'retrained',
  e: FlowEval,
  train: { ms: number; loss: number; bytes?: number },
  n: number,
): Result {
  return {
    name,
    kind: 'model',
    params: {
      model: 'BFM',
      K: spec.K,
      optimizer: spec.train.optimizer ?? 'AdamW',
      schedule: spec.train.schedule ?? 'cosine',
      trainSteps: spec.train.steps,
      sampleSteps: e.steps,
      source,
    },
    metrics: {
      fd: { value: e.fd!, unit: '', better: 'lower' },
      confident: { value: 100 * e.confident!, unit: '%', better: 'higher' },
      sw2: { value: e.sw2, unit: '', better: 'lower' },
      finalLoss: { value: train.loss, unit: '', better: 'lower' },
      trainSeconds: { value: train.ms / 1000, unit: 's', better: 'lower' },
      sampleMsPer1k: { value: (e.sampleMs / n) * 1000, unit: 'ms', better: 'lower' },
      flopsPerSample: { value: e.flopsPerSample, unit: 'FLOP', better: 'lower' },
      // Measured after training (checkpoints trained before the meta recorded it have none).
      ...(train.bytes !== undefined
        ? { optimizerStateBytes: { value: train.bytes, unit: 'bytes', better: 'lower' as const } }
        : {}),
    },
  };
}

/** End to end: the shipped BFM K = 2 on the digits, sampled and scored; --full trains it with AdamW8bit + WSD beside AdamW + cosine. */
export const digitsGenSuite: Suite = {
  name: 'digits-gen',
  description:
    'Blockwise Flow Matching (K = 2) on the 8x8 digits from the shipped checkpoint (AdamW + warm-up cosine): generated digits next to real ones, digit Fréchet distance against the real-vs-real floor, share classified with confidence >= 0.9. --full also trains BFM K = 2 from scratch with AdamW8bit + WSD and with AdamW + cosine and compares them.',
  async run(ctx: SuiteContext): Promise<Result[]> {
    const loaded = loadFlowClassifier('digits');
    const { recipe, reference } = digitsGenSpecs();
    const shippedSpec = flowSpecs('digits').find((s) => s.K === 2 && !s.features)!;
    const shipped = loadFlowModel(shippedSpec);
    if (!loaded || !shipped) {
      loaded?.clf.dispose();
      shipped?.model.dispose();
      throw new Error(
        `digits-gen: the shipped checkpoints ${flowCheckpoint(shippedSpec)} and flow/digits-classifier are missing; train them: npx tsx apps/bench/src/flowmodels/train-checkpoints.ts --seed 1`,
      );
    }
    const { clf, meta } = loaded;
    const data = flowData('digits', meta.seed, ctx.data.digits());
    const results: Result[] = [];
    try {
      const ref = await flowReference(data, clf, data.ref.length / 64);
      // Every held-out digit on every backend: fewer would bias the Fréchet distance and its floor
      // upward (7.4 at 539 digits, 20.3 at 269), and sampling them takes about a second on WebGPU.
      const n = ref.n;
      const floor = frechetDistance(
        await clf.features(data.trainPixels!.subarray(0, n * 64)),
        ref.refFeatures!,
        clf.featureDim,
      );
      results.push({
        name: 'real digits (train vs held-out)',
        kind: 'data',
        params: { model: 'real digits' },
        metrics: {
          fd: { value: floor, unit: '', better: 'lower' },
          confident: {
            value: 100 * (await confidentShare(clf, data.refPixels!.subarray(0, n * 64))).share,
            unit: '%',
            better: 'higher',
          },
        },
      });
      const grids: { label: string; x: Float32Array }[] = [];
      const score = async (
        spec: FlowModelSpec,
        model: BlockwiseFlow,
        source: 'shipped' | 'retrained',
        train: { ms: number; loss: number; bytes?: number },
      ) => {
        const [e] = await evaluateFlow(model, ref, [SAMPLE_STEPS], meta.seed + 9);
        const name = `${spec.label}${source === 'retrained' ? ' (retrained)' : ' (shipped)'}`;
        results.push(result(name, spec, source, e!, train, n));
        grids.push({ label: name, x: e!.x });
      };
      const m = shipped.meta;
      await score(reference, shipped.model, 'shipped', {
        ms: m.trainMs as number,
        loss: m.finalLoss as number,
        bytes: m.optimizerStateBytes as number | undefined,
      });
      if (ctx.full) {
        for (const spec of [recipe, reference]) {
          ctx.log(`digits-gen: training ${spec.label} from scratch (${spec.train.steps} steps)`);
          const t = await trainOneFlow(spec, data, clf, meta.seed, (msg) => ctx.log(`digits-gen: ${msg}`));
          try {
            await score(spec, t.model, 'retrained', {
              ms: t.trainMs,
              loss: finalLoss(t.losses),
              bytes: t.optimizerStateBytes,
            });
            ctx.chart({
              id: `loss-${spec.id}`,
              title: `training loss: ${spec.label}`,
              kind: 'line',
              x: 'step',
              y: 'flow-matching loss',
              series: [{ name: spec.label, points: t.losses }],
            });
          } finally {
            t.model.dispose();
          }
        }
      }
      // Real held-out digits on top, then four rows per model.
      const grid = digitsGrid(
        data.refPixels!,
        grids.map((g) => g.x),
        40,
      );
      ctx.image('digits-real-vs-generated', grid, 8, 8, {
        cols: 10,
        scale: 4,
        title: `top 4 rows real held-out digits, then 4 rows each: ${grids.map((g) => g.label).join('; ')} (${SAMPLE_STEPS} Euler steps)`,
      });
    } finally {
      shipped.model.dispose();
      clf.dispose();
    }
    return results;
  },
  validate(results): Check[] {
    const get = (n: string) => results.find((r) => r.name === n);
    const real = get('real digits (train vs held-out)');
    const floor = real?.metrics.fd?.value ?? NaN;
    const mine = get('BFM K=2, AdamW + cosine (shipped)');
    const fd = mine?.metrics.fd?.value ?? NaN;
    const conf = mine?.metrics.confident?.value ?? NaN;
    const checks: Check[] = [
      {
        name: 'digits-gen: Fréchet distance <= 3x the real-vs-real floor (shipped BFM K=2)',
        pass: fd <= 3 * floor,
        detail: `${fd.toFixed(2)}, floor ${floor.toFixed(2)} (${(fd / floor).toFixed(1)}x)`,
      },
      {
        name: 'digits-gen: >= 80% of generated digits classified with confidence >= 0.9 (shipped BFM K=2)',
        pass: conf >= 80,
        detail: `${conf.toFixed(1)}% (real held-out digits: ${(real?.metrics.confident?.value ?? NaN).toFixed(1)}%)`,
      },
    ];
    const a8 = get('BFM K=2, AdamW8bit + WSD (retrained)')?.metrics.fd?.value;
    const a32 = get('BFM K=2, AdamW + cosine (retrained)')?.metrics.fd?.value;
    if (a8 !== undefined && a32 !== undefined) {
      checks.push({
        name: 'digits-gen: AdamW8bit + WSD matches AdamW + cosine (Fréchet distance within 25%)',
        pass: a8 <= a32 * 1.25,
        detail: `${a8.toFixed(3)} vs ${a32.toFixed(3)}`,
      });
    }
    return checks;
  },
};

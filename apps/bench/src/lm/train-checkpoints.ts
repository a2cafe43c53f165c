/**
 * Trains the shipped lm checkpoints from a seed: a causal character model on the bench text, then
 * its conversion to block diffusion (same weights, block-diffusion mask with the clean prefix,
 * masked-token loss, complementary masks). Writes apps/bench/checkpoints/lm/{causal,block-diffusion}.
 *
 *   npx tsx apps/bench/src/lm/train-checkpoints.ts --seed 1 [--backend wasm] [--out DIR]
 *     [--causal-steps N] [--convert-steps N] [--convert-only | --causal-only]
 *
 * `--convert-only` skips the causal stage and converts the lm/causal checkpoint (the shipped one,
 * or the one in `--out`); `--causal-only` stops after the causal stage. `loadAverage` in the
 * meta is the machine's 1-minute load when a stage ended (training times depend on it).
 */
import { createRng, initBackend, type BackendName } from '@blockwise/tensor';
import * as tf from '@tensorflow/tfjs-core';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { loadCheckpoint, saveCheckpoint } from '../checkpoints.js';
import { benchData } from '../data.js';
import { parameterCount } from './model.js';
import {
  distillWindows,
  lmFromTensors,
  lmTensors,
  SHIPPED_RECIPE,
  trainStage,
  type LmRecipe,
  type StageResult,
} from './recipe.js';
import { charTokenizer, splitTokens } from './tokenizer.js';
import { blockDiffusionValLoss, causalValLoss, validationWindows } from './train.js';

function parseArgs(argv: string[]): {
  seed: number;
  backend: BackendName;
  out?: string;
  causalSteps?: number;
  convertSteps?: number;
  convertOnly: boolean;
  causalOnly: boolean;
} {
  const o: ReturnType<typeof parseArgs> = { seed: 1, backend: 'wasm', convertOnly: false, causalOnly: false };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!;
    if (flag === '--convert-only') {
      o.convertOnly = true;
      continue;
    }
    if (flag === '--causal-only') {
      o.causalOnly = true;
      continue;
    }
    const value = argv[++i];
    if (value === undefined) throw new Error(`train-checkpoints: ${flag} needs a value`);
    const int = () => {
      const n = Number(value);
      if (!Number.isInteger(n) || n < 0)
        throw new Error(`train-checkpoints: ${flag} must be a non-negative integer, got ${JSON.stringify(value)}`);
      return n;
    };
    if (flag === '--seed') o.seed = int();
    else if (flag === '--backend') o.backend = value as BackendName;
    else if (flag === '--out') o.out = value;
    else if (flag === '--causal-steps') o.causalSteps = int();
    else if (flag === '--convert-steps') o.convertSteps = int();
    else
      throw new Error(
        `train-checkpoints: unknown flag ${JSON.stringify(flag)} (expected --seed, --backend, --out, --causal-steps, --convert-steps, --convert-only, --causal-only)`,
      );
  }
  return o;
}

const args = parseArgs(process.argv.slice(2));
const info = await initBackend(args.backend);
const recipe: LmRecipe = {
  ...SHIPPED_RECIPE,
  causalSteps: args.causalSteps ?? SHIPPED_RECIPE.causalSteps,
  convertSteps: args.convertSteps ?? SHIPPED_RECIPE.convertSteps,
};
const text = benchData.text();
const tok = charTokenizer(text);
const { train, val } = splitTokens(tok, text, 0.1);
const valSet = validationWindows(val, 64, recipe.len);
const vocab = tok.vocab + 1;
const command = `npx tsx apps/bench/src/lm/train-checkpoints.ts ${process.argv.slice(2).join(' ')}`.trim();
const stamp = () => new Date().toISOString().slice(11, 19);
const progress = (stage: string) => (done: number, total: number, loss: number) =>
  console.log(`${stamp()} ${stage} ${done}/${total} loss ${loss.toFixed(4)}`);
const tail = (xs: number[]) => xs.slice(-50).reduce((s, v) => s + v, 0) / Math.min(50, xs.length);
console.log(`${stamp()} backend ${info.backend}, seed ${args.seed}, recipe ${JSON.stringify(recipe)}, vocab ${vocab}`);

const base = {
  command,
  seed: args.seed,
  backend: info.backend,
  architecture: { ...recipe.arch, vocab, params: 0 },
  tokenizer: { chars: tok.chars.join(''), maskId: tok.maskId, minCount: 3, valFraction: 0.1 },
  training: {
    optimizer: 'AdamW (weightDecay 0.1)',
    schedule: 'WSD (warm-up 5%, stable to 70%, 1-sqrt decay to 10%)',
    peakLr: recipe.peakLr,
    batch: recipe.batch,
    len: recipe.len,
  },
};

let causal: StageResult;
if (args.convertOnly) {
  const ck = loadCheckpoint('lm/causal', args.out ? join(args.out, 'causal') : undefined);
  const arch = ck.meta.architecture as { params: number };
  causal = {
    weights: lmFromTensors({ ...recipe.arch, vocab }, ck.tensors, 'causal'),
    log: { losses: [], lrs: [], stepMs: 0, tokensPerSecond: 0 },
  };
  base.architecture.params = arch.params;
  console.log(`${stamp()} loaded lm/causal (${String(ck.meta.command)}, ${String(ck.meta.steps)} steps)`);
} else {
  const t0 = performance.now();
  causal = await trainStage('causal', recipe, vocab, train, tok.maskId, args.seed, {
    steps: recipe.causalSteps,
    name: 'causal',
    progress: progress('causal'),
  });
  const causalMs = performance.now() - t0;
  const causalVal = await causalValLoss(causal.weights, valSet, 64, recipe.len);
  base.architecture.params = parameterCount(causal.weights);
  console.log(`${stamp()} causal: val loss ${causalVal.toFixed(4)} nats/char, ${(causalMs / 1000).toFixed(0)} s`);
  await saveCheckpoint(
    'lm/causal',
    lmTensors(causal.weights),
    {
      ...base,
      kind: 'causal',
      steps: recipe.causalSteps,
      finalTrainLoss: tail(causal.log.losses),
      valLoss: causalVal,
      trainSeconds: causalMs / 1000,
      loadAverage: loadavg()[0],
    },
    args.out ? join(args.out, 'causal') : undefined,
  );
}

if (args.causalOnly) {
  tf.dispose(causal.weights.vars);
  console.log(`${stamp()} done (causal only)`);
  process.exit(0);
}
const t1 = performance.now();
const distill = await distillWindows(recipe, causal.weights, train, tok.maskId, args.seed, (d, t) =>
  console.log(`${stamp()} distillation windows ${d}/${t}`),
);
const distillMs = performance.now() - t1;
const t2 = performance.now();
const bd = await trainStage('blockDiffusion', recipe, vocab, train, tok.maskId, args.seed, {
  steps: recipe.convertSteps,
  init: causal.weights,
  distillWindows: distill,
  name: 'bd',
  progress: progress('convert'),
});
const bdMs = performance.now() - t2;
const bdVal = await blockDiffusionValLoss(bd.weights, valSet, 64, recipe.len, tok.maskId, 8, createRng(5));
const causalAsBd = await blockDiffusionValLoss(causal.weights, valSet, 64, recipe.len, tok.maskId, 8, createRng(5));
console.log(
  `${stamp()} block diffusion: val masked loss ${bdVal.toFixed(4)} (the causal weights before conversion: ${causalAsBd.toFixed(4)}), ${(bdMs / 1000).toFixed(0)} s`,
);
await saveCheckpoint(
  'lm/block-diffusion',
  lmTensors(bd.weights),
  {
    ...base,
    kind: 'block-diffusion',
    convertedFrom: 'lm/causal',
    steps: recipe.convertSteps,
    causalSteps: recipe.causalSteps,
    stepsFractionOfCausal: recipe.convertSteps / recipe.causalSteps,
    blockSizes: recipe.blockSizes,
    convertBatch: recipe.convertBatch,
    convertPeakLr: recipe.convertLr,
    arWeight: recipe.convertArWeight,
    pattern: recipe.convertPattern,
    distill: {
      ...recipe.convertDistill,
      what: 'windows of promptLen training characters + the causal model greedy continuation to len characters (sequence-level distillation); fraction = share of each conversion batch',
      generateSeconds: distillMs / 1000,
    },
    noise:
      recipe.convertPattern === 'suffix'
        ? 'per block and noisy copy (two) a cut c uniform over the block: c masked, each later position masked with probability 0.85; random block offset'
        : 'per block t ~ U(0,1), complementary masks (two noisy copies), random block offset',
    loss: '(1 - arWeight) x masked-token loss + arWeight x next-token loss of the clean stream',
    mask: 'noisy block: bidirectional inside, clean tokens before it; clean stream causal; predictions shifted (token p from the output at p - 1)',
    finalTrainLoss: tail(bd.log.losses),
    valMaskedLoss: bdVal,
    valMaskedLossBeforeConversion: causalAsBd,
    trainSeconds: bdMs / 1000,
    loadAverage: loadavg()[0],
  },
  args.out ? join(args.out, 'block-diffusion') : undefined,
);
tf.dispose([...causal.weights.vars, ...bd.weights.vars]);
console.log(`${stamp()} done`);

import { AdamW, AdamW8bit, optimizerStateBytes } from '@blockwise/optimizers';
import { fitLossCurve, forecastError, predictLossCurve, warmupCosineDecay, warmupStableDecay, type Schedule } from '@blockwise/schedules';
import { createRng } from '@blockwise/tensor';
import * as tf from '@tensorflow/tfjs-core';
import { decodeAutoregressive, decodeBlockDiffusion } from '../lm/decode.js';
import { createLm, parameterCount, type LmConfig, type LmWeights } from '../lm/model.js';
import { charTokenizer, splitTokens } from '../lm/tokenizer.js';
import { calibrate, pruneMlp, withMasks } from '../lm/prune.js';
import { bd3Loss, causalLoss, sampleWindows, trainLm, validationWindows, type TrainLog } from '../lm/train.js';
import type { Check, Result, Suite, SuiteContext } from '../suite.js';

interface Sizes {
  cfg: Omit<LmConfig, 'vocab'>;
  len: number;
  batch: number;
  steps: number;
  valWindows: number;
  genTokens: number;
  prompts: number;
  calibWindows: number;
  icbsSteps: number;
}

const QUICK: Sizes = { cfg: { dim: 48, heads: 4, layers: 2, maxLen: 64 }, len: 64, batch: 16, steps: 150, valWindows: 32, genTokens: 32, prompts: 3, calibWindows: 32, icbsSteps: 200 };
const FULL: Sizes = { cfg: { dim: 64, heads: 4, layers: 2, maxLen: 64 }, len: 64, batch: 32, steps: 1500, valWindows: 128, genTokens: 64, prompts: 8, calibWindows: 128, icbsSteps: 2000 };

function mean(a: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]!;
  return s / a.length;
}

/** Validation next-token loss of a causal model, in nats per character. */
function valLoss(w: LmWeights, val: { x: Int32Array; y: Int32Array }, count: number, len: number): number {
  const per = 8;
  let total = 0;
  for (let i = 0; i < count; i += per) {
    const n = Math.min(per, count - i);
    const l = causalLoss(w, val.x.subarray(i * len, (i + n) * len), val.y.subarray(i * len, (i + n) * len), n, len);
    total += l.dataSync()[0]! * n;
    l.dispose();
  }
  return total / count;
}

export const lmSuite: Suite = {
  name: 'lm',
  description: 'a character-level transformer on English text (held-out split): AdamW8bit vs AdamW, WSD vs cosine (+ loss forecast), block-diffusion (BD3) vs causal training, block-diffusion vs autoregressive decoding, Wanda vs iCBS pruning to 50%',
  async run(ctx: SuiteContext): Promise<Result[]> {
    const S = ctx.full ? FULL : QUICK;
    const text = ctx.data.text();
    const tok = charTokenizer(text);
    const { train, val } = splitTokens(tok, text, 0.1);
    const cfg: LmConfig = { ...S.cfg, vocab: tok.vocab + 1 };
    const valSet = validationWindows(val, S.valWindows, S.len);
    const peak = 3e-3;
    const warm = Math.round(S.steps * 0.1);
    const schedules: Record<string, Schedule> = {
      cosine: warmupCosineDecay({ peakValue: peak, warmupSteps: warm, decaySteps: S.steps, endValue: peak * 0.1 }),
      wsd: warmupStableDecay({ peakValue: peak, warmupSteps: warm, stableSteps: Math.round(S.steps * 0.7) - warm, decaySteps: S.steps - Math.round(S.steps * 0.7), minRatio: 0.1, decayShape: '1-sqrt' }),
    };
    const results: Result[] = [];
    const runs: { name: string; optimizer: 'AdamW' | 'AdamW8bit'; schedule: 'cosine' | 'wsd'; mode: 'causal' | 'bd3'; from?: string }[] = [
      { name: 'causal AdamW cosine', optimizer: 'AdamW', schedule: 'cosine', mode: 'causal' },
      { name: 'causal AdamW8bit cosine', optimizer: 'AdamW8bit', schedule: 'cosine', mode: 'causal' },
      { name: 'causal AdamW8bit wsd', optimizer: 'AdamW8bit', schedule: 'wsd', mode: 'causal' },
      { name: 'bd3 AdamW8bit wsd', optimizer: 'AdamW8bit', schedule: 'wsd', mode: 'bd3' },
      // AR-to-block-diffusion conversion (SDAR, Efficient-DLM, Fast-dLLM v2): start from the causal model.
      { name: 'bd3 from causal AdamW8bit wsd', optimizer: 'AdamW8bit', schedule: 'wsd', mode: 'bd3', from: 'causal AdamW8bit wsd' },
    ];
    const models = new Map<string, LmWeights>();
    const logs = new Map<string, TrainLog>();
    // Block-size curriculum for BD3: 4 -> 8 -> 16 (smaller blocks first are easier).
    const curriculum = (s: number) => (s < S.steps / 3 ? 4 : s < (2 * S.steps) / 3 ? 8 : 16);
    for (const [i, r] of runs.entries()) {
      const rng = createRng(ctx.seed + 100);
      const w = createLm(cfg, rng, `lm${i}`);
      if (r.from) w.vars.forEach((v, k) => v.assign(models.get(r.from!)!.vars[k]!));
      const lr = schedules[r.schedule]!;
      const opt = r.optimizer === 'AdamW' ? new AdamW({ learningRate: lr, weightDecay: 0.1 }) : new AdamW8bit({ learningRate: lr, weightDecay: 0.1 });
      const log = await trainLm(w, train, opt, {
        steps: S.steps, batch: S.batch, len: S.len, mode: r.mode, blockSize: curriculum, maskId: tok.maskId,
        learningRate: lr, rng: createRng(ctx.seed + 7),
        progress: (d, t) => ctx.progress(r.name, d, t),
      });
      const stateBytes = optimizerStateBytes(opt);
      const metrics: Result['metrics'] = {
        trainLoss: { value: mean(log.losses.slice(-10)), unit: 'nats' },
        stepTime: { value: log.stepMs, unit: 'ms' },
        tokensPerSecond: { value: log.tokensPerSecond, unit: 'tokens/s' },
        optimizerStateBytes: { value: stateBytes, unit: 'bytes' },
        stateBytesPerParam: { value: stateBytes / parameterCount(w), unit: 'bytes' },
      };
      if (r.mode === 'causal') {
        const vl = valLoss(w, valSet, S.valWindows, S.len);
        metrics.valLoss = { value: vl, unit: 'nats' };
        metrics.valPerplexity = { value: Math.exp(vl), unit: '' };
      } else {
        const l = bd3Loss(w, valSet.x, S.valWindows, S.len, 16, tok.maskId, createRng(5));
        metrics.valMaskedLoss = { value: l.dataSync()[0]!, unit: 'nats' };
        l.dispose();
      }
      results.push({ name: r.name, params: { optimizer: r.optimizer, schedule: r.schedule, mode: r.mode, init: r.from ? 'causal model' : 'random', params: parameterCount(w), steps: S.steps }, metrics });
      models.set(r.name, w);
      logs.set(r.name, log);
      opt.dispose();
    }
    // Charts keep about 150 points per series.
    const every = Math.max(1, Math.floor(S.steps / 150));
    const thin = (_: unknown, s: number) => s % every === 0;
    ctx.chart({
      id: 'loss', title: 'training loss (nats per character)', kind: 'line', x: 'step', y: 'loss',
      series: [...logs].map(([name, log]) => ({ name, points: log.losses.map((v, s) => [s, v] as [number, number]).filter(thin) })),
    });
    ctx.chart({
      id: 'lr', title: 'learning-rate schedules', kind: 'line', x: 'step', y: 'learning rate',
      series: Object.entries(schedules).map(([name, f]) => ({ name, points: Array.from({ length: S.steps }, (_, s) => [s, f(s)] as [number, number]).filter(thin) })),
    });

    // Loss forecast (arXiv 2408.11029): fit on one schedule's curve, predict the other's.
    const cos = logs.get('causal AdamW8bit cosine')!;
    const wsd = logs.get('causal AdamW8bit wsd')!;
    for (const [from, to, a, b] of [['cosine', 'wsd', cos, wsd], ['wsd', 'cosine', wsd, cos]] as const) {
      const fit = fitLossCurve({ lrs: a.lrs, losses: a.losses, skip: Math.round(S.steps * 0.1) });
      const err = forecastError(fit, b.lrs, b.losses);
      results.push({
        name: `forecast ${from} -> ${to}`,
        params: { fittedOn: from, predicted: to },
        metrics: { rmse: { value: err.rmse, unit: 'nats' }, mape: { value: 100 * err.mape, unit: '%' }, finalAbsError: { value: err.finalAbsError, unit: 'nats' }, fitRmse: { value: fit.rmse, unit: 'nats' } },
      });
      if (from === 'cosine') {
        const pred = predictLossCurve(fit, b.lrs);
        ctx.chart({
          id: 'forecast', title: 'WSD loss predicted from the cosine run', kind: 'line', x: 'step', y: 'loss',
          series: [
            { name: 'wsd observed', points: b.losses.map((v, s) => [s, v] as [number, number]).filter(thin) },
            { name: 'wsd predicted', points: Array.from(pred, (v, s) => [s, v] as [number, number]).filter(thin) },
          ],
        });
      }
    }

    // Decoding: autoregressive vs confidence-threshold block diffusion; the causal model judges.
    const ar = models.get('causal AdamW8bit wsd')!;
    const bd = models.get('bd3 from causal AdamW8bit wsd')!;
    const judge = (prompt: Int32Array, gen: Int32Array) => {
      const all = Int32Array.from([...prompt, ...gen]);
      const x = all.subarray(0, all.length - 1);
      const y = all.subarray(1);
      const l = causalLoss(ar, x, y, 1, x.length);
      // mean over all positions; the generated part dominates (prompt 16, generated >= 32)
      const v = l.dataSync()[0]!;
      l.dispose();
      return v;
    };
    const block = 16;
    const samples: Record<string, string[]> = {};
    const dec: Record<string, { calls: number; tokens: number; judge: number[]; ms: number }> = {};
    for (let p = 0; p < S.prompts; p++) {
      const start = Math.floor(((p + 0.5) / S.prompts) * (val.length - 64));
      const prompt = val.slice(start, start + block);
      const newline = tok.encode('\n')[0]!;
      for (const [name, fn] of [
        ['autoregressive (causal model)', () => decodeAutoregressive(ar, prompt, S.genTokens)],
        ['block diffusion, block 1 (= autoregressive)', () => decodeBlockDiffusion(bd, prompt, S.genTokens, { blockSize: 1 }, tok.maskId, block)],
        ['block diffusion, threshold 0.9', () => decodeBlockDiffusion(bd, prompt, S.genTokens, { blockSize: block, threshold: 0.9 }, tok.maskId, block)],
        ['block diffusion, threshold 0.5', () => decodeBlockDiffusion(bd, prompt, S.genTokens, { blockSize: block, threshold: 0.5 }, tok.maskId, block)],
        ['block diffusion, threshold 0.25', () => decodeBlockDiffusion(bd, prompt, S.genTokens, { blockSize: block, threshold: 0.25 }, tok.maskId, block)],
        ['block diffusion, threshold 0.5, sub-blocks of 4', () => decodeBlockDiffusion(bd, prompt, S.genTokens, { blockSize: block, threshold: 0.5, subBlockSize: 4 }, tok.maskId, block)],
        ['block diffusion, threshold 0.5, adaptive blocks', () => decodeBlockDiffusion(bd, prompt, S.genTokens, { blockSize: block, threshold: 0.5, adaptive: { delimiterId: newline, minBlock: 4, maxBlock: 16 } }, tok.maskId, block)],
      ] as const) {
        const t0 = performance.now();
        const out = await fn();
        const ms = performance.now() - t0;
        const d = (dec[name] ??= { calls: 0, tokens: 0, judge: [], ms: 0 });
        d.calls += out.calls;
        d.tokens += out.tokens.length;
        d.ms += ms;
        d.judge.push(judge(prompt, out.tokens));
        (samples[name] ??= []).push(`${tok.decode(prompt)}|${tok.decode(out.tokens)}`);
      }
      ctx.progress('decoding', p + 1, S.prompts);
    }
    for (const [name, d] of Object.entries(dec)) {
      results.push({
        name: `decode ${name}`,
        params: { decoder: name },
        metrics: {
          tokensPerCall: { value: d.tokens / d.calls, unit: 'tokens' },
          judgePerplexity: { value: Math.exp(mean(d.judge)), unit: '' },
          msPerToken: { value: d.ms / d.tokens, unit: 'ms' },
        },
        samples: samples[name],
      });
    }
    // Pruning the MLP matrices of the causal model to 50% (and 20%) density: Wanda, then iCBS from Wanda.
    const calib = sampleWindows(train, S.calibWindows, S.len, createRng(ctx.seed + 11));
    const stats = calibrate(ar, calib.x, S.calibWindows, S.len);
    const dense = valLoss(ar, valSet, S.valWindows, S.len);
    for (const [method, steps, density] of [['wanda', 0, 0.5], ['icbs', S.icbsSteps, 0.5], ['wanda', 0, 0.2], ['icbs', S.icbsSteps, 0.2]] as const) {
      const t0 = performance.now();
      const masks = pruneMlp(ar, stats, density, steps, ctx.seed);
      const ms = performance.now() - t0;
      const vl = withMasks(ar, masks, () => valLoss(ar, valSet, S.valWindows, S.len));
      const objBefore = [...masks.values()].reduce((s, m) => s + (m.objectiveBefore ?? 0), 0);
      const objAfter = [...masks.values()].reduce((s, m) => s + (m.objectiveAfter ?? 0), 0);
      results.push({
        name: `prune ${method} ${100 * density}%`,
        params: { method, density, target: 'MLP matrices', icbsSteps: steps },
        metrics: {
          valLoss: { value: vl, unit: 'nats' },
          valPerplexity: { value: Math.exp(vl), unit: '' },
          lossIncrease: { value: vl - dense, unit: 'nats' },
          pruneMs: { value: ms, unit: 'ms' },
          ...(steps > 0 ? { objectiveReduction: { value: objBefore > 0 ? 1 - objAfter / objBefore : 0, unit: '' } } : {}),
        },
      });
    }
    for (const w of models.values()) tf.dispose(w.vars);
    return results;
  },
  validate(results): Check[] {
    const get = (n: string, m: string) => results.find((r) => r.name === n)?.metrics[m]?.value ?? NaN;
    const a32 = get('causal AdamW cosine', 'valLoss');
    const a8 = get('causal AdamW8bit cosine', 'valLoss');
    const s32 = get('causal AdamW cosine', 'optimizerStateBytes');
    const s8 = get('causal AdamW8bit cosine', 'optimizerStateBytes');
    const tpc = get('decode block diffusion, threshold 0.5', 'tokensPerCall');
    const pw = get('prune wanda 20%', 'valLoss');
    const pi = get('prune icbs 20%', 'valLoss');
    const pw5 = get('prune wanda 50%', 'valLoss');
    const pi5 = get('prune icbs 50%', 'valLoss');
    return [
      { name: 'iCBS prunes the MLP matrices to 20% density with less loss than Wanda', pass: pi < pw, detail: `validation loss after pruning: iCBS ${pi.toFixed(4)}, Wanda ${pw.toFixed(4)} nats (at 50%: iCBS ${pi5.toFixed(4)}, Wanda ${pw5.toFixed(4)})` },
      { name: 'AdamW8bit reaches AdamW validation loss (within 2%)', pass: a8 <= a32 * 1.02, detail: `AdamW8bit ${a8.toFixed(4)} vs AdamW ${a32.toFixed(4)} nats` },
      { name: 'AdamW8bit keeps less optimizer state', pass: s8 < s32, detail: `${(s8 / 1024).toFixed(0)} KiB vs ${(s32 / 1024).toFixed(0)} KiB (${(s8 / s32).toFixed(3)}x)` },
      { name: 'block diffusion decodes more than one token per model call', pass: tpc > 1, detail: `${tpc.toFixed(2)} tokens per call (autoregressive: 1)` },
    ];
  },
};

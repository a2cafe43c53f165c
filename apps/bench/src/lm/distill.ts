import type { Rng } from '@blockwise/tensor';
import { decodeAutoregressive } from './decode.js';
import type { LmWeights } from './model.js';

/**
 * Sequence-level distillation data (Kim & Rush 2016, the usual recipe of parallel decoders):
 * `count` windows of `promptLen` characters of real text followed by the teacher's greedy
 * continuation of `genLen` characters, `[count * (promptLen + genLen)]`. Trained on these, the
 * masked positions of a block learn the teacher's (deterministic) greedy chain instead of the
 * spread of real text, which is what lets a confident block decode several tokens per call.
 */
export async function greedyWindows(
  teacher: LmWeights,
  train: Int32Array,
  count: number,
  promptLen: number,
  genLen: number,
  rng: Rng,
  maskId = teacher.config.vocab - 1,
  progress?: (done: number, total: number) => void,
): Promise<Int32Array> {
  if (!Number.isInteger(count) || count < 1)
    throw new Error(`greedyWindows: count must be a positive integer, got ${count}`);
  const n = promptLen + genLen;
  const out = new Int32Array(count * n);
  for (let i = 0; i < count; i++) {
    const s = rng.int(train.length - promptLen);
    const prompt = train.slice(s, s + promptLen);
    const { tokens } = await decodeAutoregressive(teacher, prompt, genLen, maskId);
    out.set(prompt, i * n);
    out.set(tokens, i * n + promptLen);
    if (progress && (i + 1) % 100 === 0) progress(i + 1, count);
  }
  return out;
}

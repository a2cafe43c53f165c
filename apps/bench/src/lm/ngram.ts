/**
 * A character n-gram model with Witten-Bell interpolation: an independent judge of generated
 * text (it shares nothing with the transformers), trained on the training split only.
 */
export interface NgramModel {
  order: number;
  vocab: number;
  /** Probability of `next` after `context` (the last order-1 tokens of it are used). */
  prob(context: ArrayLike<number>, next: number): number;
  /** Mean negative log-likelihood (nats) of `tokens[from..]`, each given the tokens before it. */
  nll(tokens: ArrayLike<number>, from: number): number;
}

/** Counts n-grams of `ids` up to `order` (tokens in [0, vocab)). */
export function trainNgram(ids: ArrayLike<number>, vocab: number, order = 4): NgramModel {
  if (!Number.isInteger(order) || order < 1 || order > 8)
    throw new Error(`trainNgram: order must be an integer in [1, 8], got ${order}`);
  if (!Number.isInteger(vocab) || vocab < 1)
    throw new Error(`trainNgram: vocab must be a positive integer, got ${vocab}`);
  // key of a context: its tokens joined; counts of (context, next), of the context, and of its distinct continuations
  const pair = new Map<string, number>();
  const total = new Map<string, number>();
  const distinct = new Map<string, number>();
  for (let i = 0; i < ids.length; i++) {
    const t = ids[i]!;
    if (!(t >= 0 && t < vocab)) throw new Error(`trainNgram: token ${t} at ${i} is outside [0, ${vocab})`);
    for (let n = 0; n < order && n <= i; n++) {
      const ctx = n === 0 ? '' : Array.prototype.join.call(Array.prototype.slice.call(ids, i - n, i), ',');
      const key = `${ctx}|${t}`;
      const c = pair.get(key) ?? 0;
      pair.set(key, c + 1);
      total.set(ctx, (total.get(ctx) ?? 0) + 1);
      if (c === 0) distinct.set(ctx, (distinct.get(ctx) ?? 0) + 1);
    }
  }
  const prob = (context: ArrayLike<number>, next: number): number => {
    let p = 1 / vocab;
    const ctxTokens = Array.prototype.slice.call(context, Math.max(0, context.length - (order - 1))) as number[];
    for (let n = 0; n <= ctxTokens.length; n++) {
      const ctx = ctxTokens.slice(ctxTokens.length - n).join(',');
      const c = total.get(ctx);
      if (!c) break;
      const d = distinct.get(ctx)!;
      p = ((pair.get(`${ctx}|${next}`) ?? 0) + d * p) / (c + d);
    }
    return p;
  };
  return {
    order,
    vocab,
    prob,
    nll(tokens, from) {
      let s = 0;
      for (let i = from; i < tokens.length; i++)
        s -= Math.log(prob(Array.prototype.slice.call(tokens, Math.max(0, i - order + 1), i), tokens[i]!));
      return s / Math.max(1, tokens.length - from);
    },
  };
}

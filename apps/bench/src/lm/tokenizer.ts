/** A character-level tokenizer over the characters of a corpus, plus a [MASK] token last. */
export interface CharTokenizer {
  chars: string[];
  /** Vocabulary size without [MASK]. */
  vocab: number;
  /** Id of the [MASK] token (= vocab). */
  maskId: number;
  encode(s: string): Int32Array;
  decode(ids: ArrayLike<number>): string;
}

/** Builds a tokenizer; characters seen fewer than `minCount` times map to '?'. */
export function charTokenizer(corpus: string, minCount = 3): CharTokenizer {
  const counts = new Map<string, number>();
  for (const c of corpus) counts.set(c, (counts.get(c) ?? 0) + 1);
  const chars = [...counts].filter(([, n]) => n >= minCount).map(([c]) => c);
  if (!chars.includes('?')) chars.push('?');
  chars.sort();
  const index = new Map(chars.map((c, i) => [c, i]));
  const unknown = index.get('?')!;
  return {
    chars,
    vocab: chars.length,
    maskId: chars.length,
    encode: (s) => Int32Array.from([...s], (c) => index.get(c) ?? unknown),
    decode: (ids) => Array.from(ids, (i) => (i < chars.length ? chars[i]! : '_')).join(''),
  };
}

/** Splits text into train and validation token streams (the last `valFraction` held out). */
export function splitTokens(
  tok: CharTokenizer,
  text: string,
  valFraction = 0.1,
): { train: Int32Array; val: Int32Array } {
  const ids = tok.encode(text);
  const cut = Math.floor(ids.length * (1 - valFraction));
  return { train: ids.subarray(0, cut), val: ids.subarray(cut) };
}

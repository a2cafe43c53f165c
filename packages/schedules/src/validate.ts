/** Argument checks shared by every schedule builder: each throws naming the argument, the value and what was expected. */

function show(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map(show).join(', ')}]`;
  return String(v);
}

/** Throws unless `v` is a finite number. */
export function finite(name: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isFinite(v))
    throw new RangeError(`${name} must be a finite number, got ${show(v)}`);
  return v;
}

/** Throws unless `v` is a finite number >= 0. */
export function nonNegative(name: string, v: unknown): number {
  finite(name, v);
  if ((v as number) < 0) throw new RangeError(`${name} must be >= 0, got ${show(v)}`);
  return v as number;
}

/** Throws unless `v` is a finite number > 0. */
export function positive(name: string, v: unknown): number {
  finite(name, v);
  if ((v as number) <= 0) throw new RangeError(`${name} must be > 0, got ${show(v)}`);
  return v as number;
}

/** Throws unless `v` is an integer >= 0. */
export function nonNegativeInt(name: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0)
    throw new RangeError(`${name} must be an integer >= 0, got ${show(v)}`);
  return v;
}

/** Throws unless `v` is an integer > 0. */
export function positiveInt(name: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0)
    throw new RangeError(`${name} must be an integer > 0, got ${show(v)}`);
  return v;
}

/** Throws unless `v` is in [lo, hi]. */
export function inRange(name: string, v: unknown, lo: number, hi: number): number {
  finite(name, v);
  if ((v as number) < lo || (v as number) > hi)
    throw new RangeError(`${name} must be in [${lo}, ${hi}], got ${show(v)}`);
  return v as number;
}

/** Throws unless `v` is one of `allowed`. */
export function oneOf<T extends string>(name: string, v: unknown, allowed: readonly T[]): T {
  if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v)) {
    throw new RangeError(`${name} must be one of ${allowed.map((a) => JSON.stringify(a)).join(', ')}, got ${show(v)}`);
  }
  return v as T;
}

/** Throws unless `v` is a boolean. */
export function bool(name: string, v: unknown): boolean {
  if (typeof v !== 'boolean') throw new TypeError(`${name} must be a boolean, got ${show(v)}`);
  return v;
}

/** Throws unless `v` is an array of finite numbers (optionally sorted ascending). */
export function numberArray(
  name: string,
  v: unknown,
  opts: { sorted?: boolean; nonNegative?: boolean } = {},
): number[] {
  if (!Array.isArray(v)) throw new TypeError(`${name} must be an array of numbers, got ${show(v)}`);
  v.forEach((x, i) => {
    if (opts.nonNegative) nonNegative(`${name}[${i}]`, x);
    else finite(`${name}[${i}]`, x);
  });
  if (opts.sorted) {
    for (let i = 1; i < v.length; i++) {
      if (v[i]! < v[i - 1]!) throw new RangeError(`${name} must be sorted ascending, got ${show(v)}`);
    }
  }
  return v as number[];
}

/** Case-insensitive edit distance (this package has no dependencies, so no shared helper). */
function editDistance(a: string, b: string): number {
  a = a.toLowerCase();
  b = b.toLowerCase();
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++)
      cur.push(Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1)));
    prev = cur;
  }
  return prev[b.length]!;
}

/**
 * ` (did you mean "x"?)` for the candidate nearest a misspelt name, or '' when none is close (within about a
 * third of the name's length), so unrelated names get no misleading hint.
 */
export function didYouMean(name: unknown, candidates: readonly string[]): string {
  if (typeof name !== 'string' || name.length === 0) return '';
  let best: string | undefined;
  let bestD = Infinity;
  for (const c of candidates) {
    const d = editDistance(name, c);
    if (d < bestD) {
      bestD = d;
      best = c;
    }
  }
  return best !== undefined && bestD <= Math.max(1, Math.ceil(name.length / 3))
    ? ` (did you mean ${JSON.stringify(best)}?)`
    : '';
}

/** Throws when `options` has keys outside `allowed` (catches typos such as `warmup_step`). */
export function knownKeys(what: string, options: object, allowed: readonly string[]): void {
  for (const k of Object.keys(options)) {
    if (!allowed.includes(k)) {
      throw new TypeError(
        `${what}: unknown option ${JSON.stringify(k)}; valid options are ${allowed.join(', ')}${didYouMean(k, allowed)}`,
      );
    }
  }
}

/** Throws unless `options` is a plain object. */
export function objectArg(name: string, v: unknown): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v))
    throw new TypeError(`${name} must be an options object, got ${show(v)}`);
  return v as Record<string, unknown>;
}

/**
 * `table[key]` for own keys only: a user-given name such as "constructor", "toString" or "__proto__" must
 * not find `Object.prototype`'s members.
 */
export function own<T>(table: Readonly<Record<string, T>>, key: unknown): T | undefined {
  return typeof key === 'string' && Object.prototype.hasOwnProperty.call(table, key) ? table[key] : undefined;
}

/**
 * Largest number of steps sampled, plotted or forecast in one call (80 MB of float64). A step count such as 1e9
 * would exhaust the process's memory with no error, so it is refused instead.
 */
export const MAX_STEPS = 10_000_000;

/** Throws unless `v` is an integer in [min, MAX_STEPS] (a count of steps to materialise). */
export function stepCount(name: string, v: unknown, min = 1): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > MAX_STEPS) {
    throw new RangeError(`${name} must be an integer in [${min}, ${MAX_STEPS}], got ${show(v)}`);
  }
  return v;
}

/** Throws unless `v` is an array or typed array (of at most MAX_STEPS entries). */
export function arrayLike(name: string, v: unknown): ArrayLike<unknown> {
  if (!Array.isArray(v) && !(ArrayBuffer.isView(v) && !(v instanceof DataView))) {
    throw new TypeError(`${name} must be an array or typed array of numbers, got ${show(v)}`);
  }
  const n = (v as ArrayLike<unknown>).length;
  if (n > MAX_STEPS) throw new RangeError(`${name} has ${n} entries; at most ${MAX_STEPS} are supported`);
  return v as ArrayLike<unknown>;
}

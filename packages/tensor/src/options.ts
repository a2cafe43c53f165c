/**
 * Option-object validation shared by the blockwise packages: unknown keys, wrong types and
 * out-of-range numbers throw an error that names the function, the option, the value and what
 * was expected (`new AdamW({ learningrate: 0.5 })` must not train at the default rate).
 */

/** Formats a value for an error message (short, unambiguous: strings quoted, NaN shown). */
export function describeValue(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v.length > 60 ? `${v.slice(0, 57)}...` : v);
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return String(v);
  if (v === null) return 'null';
  if (v === undefined) return 'undefined';
  if (typeof v === 'function') return 'a function';
  if (Array.isArray(v)) return `an array of length ${v.length}`;
  return 'an object';
}

/** Edit distance between two strings, case-insensitive (for "did you mean" hints). */
function distance(a: string, b: string): number {
  a = a.toLowerCase();
  b = b.toLowerCase();
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      const sub = (prev[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1);
      cur.push(Math.min((prev[j] ?? 0) + 1, (cur[j - 1] ?? 0) + 1, sub));
    }
    prev = cur;
  }
  return prev[b.length] ?? 0;
}

/**
 * The candidate closest to `name` by case-insensitive edit distance, or undefined when none is
 * within about a third of the name's length (so unrelated names get no suggestion).
 */
export function nearestName(name: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  for (const c of candidates) {
    const d = distance(name, c);
    if (d < bestD) {
      bestD = d;
      best = c;
    }
  }
  return bestD <= Math.max(2, Math.ceil(name.length / 3)) ? best : undefined;
}

/**
 * Checks an options argument: `undefined` becomes `{}`; anything but a plain object (null, an
 * array, a number) throws; an own key outside `allowed` throws naming the key and the nearest
 * valid name. Returns the options typed as given.
 *
 * @param what the function or class the options belong to, e.g. `'AdamW'`.
 */
export function checkOptions<T extends object>(what: string, options: T | undefined, allowed: readonly string[]): T {
  if (options === undefined) return {} as T;
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new TypeError(`${what}: options must be an object, got ${describeValue(options)}`);
  }
  for (const key of Object.keys(options)) {
    if (!allowed.includes(key)) {
      const near = nearestName(key, allowed);
      throw new TypeError(
        `${what}: unknown option ${JSON.stringify(key)}` +
          (near ? `; did you mean ${JSON.stringify(near)}?` : '') +
          ` Valid options: ${allowed.join(', ')}`,
      );
    }
  }
  return options;
}

/** Constraints for {@link checkNumber}. */
export interface NumberConstraints {
  /** Smallest allowed value (inclusive unless `exclusiveMin`). */
  min?: number;
  /** Largest allowed value (inclusive unless `exclusiveMax`). */
  max?: number;
  exclusiveMin?: boolean;
  exclusiveMax?: boolean;
  /** Require a whole number. */
  integer?: boolean;
  /** Allow ±Infinity (never NaN). Default false. */
  allowInfinity?: boolean;
}

/**
 * Throws unless `value` is a number satisfying the constraints; returns it. `name` is how the
 * error names the argument, e.g. `'AdamW: beta1'`.
 */
export function checkNumber(name: string, value: unknown, c: NumberConstraints = {}): number {
  const expected = describeNumberConstraints(c);
  if (typeof value !== 'number' || Number.isNaN(value) || (!c.allowInfinity && !Number.isFinite(value))) {
    throw new TypeError(`${name} must be ${expected}, got ${describeValue(value)}`);
  }
  const bad =
    (c.integer && !Number.isInteger(value) && Number.isFinite(value)) ||
    (c.min !== undefined && (c.exclusiveMin ? value <= c.min : value < c.min)) ||
    (c.max !== undefined && (c.exclusiveMax ? value >= c.max : value > c.max));
  if (bad) throw new RangeError(`${name} must be ${expected}, got ${describeValue(value)}`);
  return value;
}

function describeNumberConstraints(c: NumberConstraints): string {
  const parts = [c.integer ? 'an integer' : c.allowInfinity ? 'a number' : 'a finite number'];
  if (c.min !== undefined) parts.push(`${c.exclusiveMin ? '>' : '>='} ${c.min}`);
  if (c.max !== undefined) parts.push(`${c.exclusiveMax ? '<' : '<='} ${c.max}`);
  return parts.join(' ');
}

/** Throws unless `value` is a boolean; returns it. */
export function checkBoolean(name: string, value: unknown): boolean {
  if (typeof value !== 'boolean') throw new TypeError(`${name} must be true or false, got ${describeValue(value)}`);
  return value;
}

/** Throws unless `value` is one of `choices` (compared with `===`); returns it. */
export function checkOneOf<const C extends readonly unknown[]>(name: string, value: unknown, choices: C): C[number] {
  if (!choices.includes(value)) {
    throw new TypeError(`${name} must be one of ${choices.map(describeValue).join(', ')}, got ${describeValue(value)}`);
  }
  return value as C[number];
}

/** Keyword-argument handling for the Python-config translators (fromTorch, fromOptax, fromTransformers, fromTimm). */

import { didYouMean } from './validate.js';

/** The keyword arguments of a Python call, spelled as the library spells them. */
export type Kwargs = Record<string, unknown>;

/** Throws for an unknown scheduler name, listing the valid ones. */
export function unknownName(lib: string, name: unknown, valid: readonly string[]): never {
  throw new RangeError(
    `${lib}: unknown scheduler ${JSON.stringify(name)}; valid names are ${valid.join(', ')}${didYouMean(name, valid)}`,
  );
}

/**
 * Validates kwargs against the keywords a scheduler accepts: unknown keywords throw listing the valid ones,
 * missing required ones throw naming them. Returns a reader with defaults.
 */
export function readKwargs(
  lib: string,
  name: string,
  kwargs: unknown,
  accepted: readonly string[],
  required: readonly string[] = [],
) {
  if (kwargs === undefined) kwargs = {};
  if (typeof kwargs !== 'object' || kwargs === null || Array.isArray(kwargs))
    throw new TypeError(`${lib}(${JSON.stringify(name)}): kwargs must be an object, got ${String(kwargs)}`);
  const kw = kwargs as Kwargs;
  const all = [...accepted, 'lr'];
  for (const k of Object.keys(kw)) {
    if (!all.includes(k)) {
      throw new TypeError(
        `${lib}(${JSON.stringify(name)}): unknown keyword ${JSON.stringify(k)}; valid keywords are ${all.join(', ')}${didYouMean(k, all)}`,
      );
    }
  }
  for (const k of required) {
    if (kw[k] === undefined || kw[k] === null)
      throw new TypeError(`${lib}(${JSON.stringify(name)}): missing required keyword ${JSON.stringify(k)}`);
  }
  const where = (k: string) => `${lib}(${JSON.stringify(name)}) ${k}`;
  const num = (k: string, dflt?: number): number => {
    const v = kw[k] ?? dflt;
    if (typeof v !== 'number' || !Number.isFinite(v))
      throw new RangeError(`${where(k)} must be a finite number, got ${String(v)}`);
    return v;
  };
  return {
    kw,
    has: (k: string) => kw[k] !== undefined && kw[k] !== null,
    num,
    int: (k: string, dflt?: number): number => {
      const v = num(k, dflt);
      if (!Number.isInteger(v)) throw new RangeError(`${where(k)} must be an integer, got ${v}`);
      return v;
    },
    optNum: (k: string): number | undefined => (kw[k] === undefined || kw[k] === null ? undefined : num(k)),
    str: <T extends string>(k: string, allowed: readonly T[], dflt?: T): T => {
      const v = kw[k] ?? dflt;
      if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v)) {
        throw new RangeError(
          `${where(k)} must be one of ${allowed.map((a) => JSON.stringify(a)).join(', ')}, got ${JSON.stringify(v)}`,
        );
      }
      return v as T;
    },
    bool: (k: string, dflt: boolean): boolean => {
      const v = kw[k] ?? dflt;
      if (typeof v !== 'boolean') throw new TypeError(`${where(k)} must be a boolean, got ${String(v)}`);
      return v;
    },
    fn: (k: string): ((x: number) => number) => {
      const v = kw[k];
      if (typeof v !== 'function') throw new TypeError(`${where(k)} must be a function of the step, got ${String(v)}`);
      return v as (x: number) => number;
    },
    /** The base learning rate (the optimizer's lr), default 1; must be finite and >= 0. */
    lr: (): number => {
      const v = kw.lr ?? 1;
      if (typeof v !== 'number' || !Number.isFinite(v) || v < 0)
        throw new RangeError(`${where('lr')} (the base learning rate) must be a finite number >= 0, got ${String(v)}`);
      return v;
    },
    fail: (k: string, msg: string): never => {
      throw new RangeError(`${where(k)} ${msg}`);
    },
  };
}

const camel = (k: string) => k.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());

/**
 * Runs a translator's builder. The builders name options in camelCase (`pctStart`); a Python user passed
 * `pct_start`, so an error about a keyword they gave is prefixed with that keyword as they spelled it.
 */
export function asKwargError<T>(lib: string, name: string, kwargs: unknown, build: () => T): T {
  try {
    return build();
  } catch (e) {
    const err = e as Error;
    if (kwargs && typeof kwargs === 'object') {
      const named = Object.keys(kwargs).filter(
        (k) => camel(k) !== k && err.message.includes(camel(k)) && !err.message.includes(k),
      );
      if (named.length > 0) err.message = `${lib}(${JSON.stringify(name)}) ${named.join(', ')}: ${err.message}`;
    }
    throw err;
  }
}

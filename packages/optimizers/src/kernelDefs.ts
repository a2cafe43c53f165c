/**
 * The shared definitions of the fused optimizer steps, in one place as tfjs keeps its kernel
 * names and attributes in `kernel_names.ts`: the rule ids, how many states each rule keeps, and
 * the order of the float32 constants a step passes to its kernel. The typed-array references,
 * the WebAssembly SIMD modules (which export the same ids as globals; a test compares them) and
 * the WGSL code all read these.
 */

/** Update rules of the fused 8-bit (and 4-bit) step: ids as the SIMD module's `step` takes them. */
export const ALGO = { adam: 0, momentum: 1, lion: 2, lamb: 3 } as const;
/** One of `ALGO`'s ids. */
export type Algo8 = (typeof ALGO)[keyof typeof ALGO];

/** Number of quantized states each 8-bit rule keeps (Adam and LAMB: m and v). */
export const ALGO_STATES: Readonly<Record<Algo8, 1 | 2>> = {
  [ALGO.adam]: 2,
  [ALGO.momentum]: 1,
  [ALGO.lion]: 1,
  [ALGO.lamb]: 2,
};

/** True for the 8-bit rules with two states (Adam, LAMB). */
export const twoStates = (algo: number): boolean => ALGO_STATES[algo as Algo8] === 2;

/** Update rules of the fused float32-state step. */
export const RULE32 = { adam: 0, momentum: 1, lion: 2, lars: 3, lamb: 4, trust: 5 } as const;
/** One of `RULE32`'s ids. */
export type Rule32 = (typeof RULE32)[keyof typeof RULE32];
/** Name of a float32 rule. */
export type Rule32Name = keyof typeof RULE32;

/** float32 states each rule keeps, with their slot names (the names `getWeights` uses). */
export const RULE32_SLOTS: Readonly<Record<Rule32Name, readonly string[]>> = {
  adam: ['m', 'v'],
  momentum: ['momentum'],
  lion: ['m'],
  lars: ['momentum'],
  lamb: ['m', 'v'],
  trust: [],
};

/**
 * The float32 constants of one float32 step, in the order the kernels read them (the SIMD
 * module at byte offset 4 x index of its constant area, WGSL as `k[index]`):
 * - adam: `p' = p*decay - stepSize*m' / (sqrt(v')*invSqrtBc2 + eps)` after `g += l2*p`
 * - momentum: torch.optim.SGD; `fresh` 1 on the buffer's first step (buffer = gradient)
 * - lion: `p' = p*decay - lr*sign(b1 m + c1 g)`, `m' = b2 m + c2 g`
 * - lars: `g~ = g + wd p`; `m' = mu m + scale g~`, `scale = lr * trust` (second pass)
 * - lamb: `u = (m'/bc1) / (sqrt(v'/bc2) + eps) + wd p`; `p' = p - scale u`, `scale = lr * trust`
 * - trust: LAMB8bit's second half, the update u given as the gradient input: `p' = p - scale u`
 */
export const RULE32_CONSTANTS = {
  adam: ['b1', 'c1', 'b2', 'c2', 'l2', 'decay', 'stepSize', 'invSqrtBc2', 'eps'],
  momentum: ['mu', 'c', 'wd', 'lr', 'nesterov', 'fresh'],
  lion: ['b1', 'c1', 'b2', 'c2', 'decay', 'lr'],
  lars: ['mu', 'wd', 'nesterov', 'scale'],
  lamb: ['b1', 'c1', 'b2', 'c2', 'bc1', 'bc2', 'eps', 'wd', 'scale'],
  trust: ['scale'],
} as const satisfies Record<Rule32Name, readonly string[]>;

/** The constants of rule `R` by name. */
export type Rule32Constants<R extends Rule32Name> = Record<(typeof RULE32_CONSTANTS)[R][number], number>;

/** Most constants any float32 rule takes (the size of the constant area the kernels read). */
export const MAX_CONSTANTS = 16;

/** Packs rule `rule`'s constants into the kernel order, each rounded to float32 once. */
export function packConstants<R extends Rule32Name>(rule: R, k: Rule32Constants<R>): number[] {
  return RULE32_CONSTANTS[rule].map((name) => Math.fround((k as Record<string, number>)[name]!));
}

/** The name of a float32 rule id. */
export function rule32Name(id: number): Rule32Name {
  const name = (Object.keys(RULE32) as Rule32Name[]).find((k) => RULE32[k] === id);
  if (!name) throw new Error(`unknown float32 rule id ${id}`);
  return name;
}

/** True for the rules whose step needs per-tensor norms (a first pass before the update). */
export const hasNorms = (rule: Rule32Name): boolean => rule === 'lars' || rule === 'lamb' || rule === 'trust';

/** Which implementation a caller asks for: `'auto'` picks the fastest the backend has. */
export type KernelChoice = 'auto' | 'simd' | 'js';
/** Which implementation ran a step: WebAssembly SIMD, the typed-array reference, WGSL or tfjs ops. */
export type KernelName = 'wasm-simd' | 'js' | 'wgsl' | 'tfjs-ops';
/** Valid `kernel` option values. */
export const KERNEL_CHOICES: readonly KernelChoice[] = ['auto', 'simd', 'js'];

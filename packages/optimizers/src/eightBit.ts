import * as tf from '@tensorflow/tfjs-core';
import { ALGO_STATES, fused8bitStep, packedStateLength, type Fused8bitAttrs } from './fused8bit.js';
import { matchesAny, toPatterns } from './hyper.js';
import { BlockwiseOptimizer } from './optimizerBase.js';
import { checkBlockSize } from './quantize.js';

/** Options shared by the 8-bit optimizers (bitsandbytes' names in camelCase). */
export interface EightBitOptions {
  /** Elements per quantization block, a positive multiple of 32 (default 256; 128 with 4 bits). */
  blockSize?: number;
  /**
   * 8 for 8-bit block-wise state (default), 4 for 4-bit state after arXiv 2309.01507 (block 128,
   * dynamic-exponent maps, no zero in the second moment's), 32 for float32 state.
   */
  optimBits?: 4 | 8 | 32;
  /** Tensors with fewer elements keep float32 state (default 4096, as bitsandbytes). */
  minQuantizedSize?: number;
  /**
   * Variables whose name matches any of these (RegExps or regex sources) keep float32 state
   * (default `['[Ss]table.?[Ee]mbedding']`, the weights of `StableEmbedding` layers; written without
   * underscores because tfjs-layers camel-cases strings when it loads a saved optimizer config).
   */
  float32StatePatterns?: (string | RegExp)[];
}

/** Slot name of the packed quantized state: `q8` or `q4`. */
export const packedSlot = (bits: number): string => `q${bits}`;

/**
 * Base of the 8-bit optimizers: decides per variable between float32 state and the packed
 * 8-bit state, and runs the fused kernel for the latter.
 */
export abstract class EightBitOptimizer extends BlockwiseOptimizer {
  /** Elements per quantization block. */
  readonly blockSize: number;
  /** 4, 8 or 32. */
  readonly optimBits: 4 | 8 | 32;
  /** Smallest tensor that gets quantized state. */
  readonly minQuantizedSize: number;
  /** Names that keep float32 state. */
  readonly float32StatePatterns: RegExp[];

  constructor(o: EightBitOptions) {
    super();
    const bits = o.optimBits ?? 8;
    if (bits !== 4 && bits !== 8 && bits !== 32) throw new Error(`optimBits must be 4, 8 or 32, got ${String(bits)}`);
    this.optimBits = bits;
    this.blockSize = checkBlockSize(o.blockSize ?? (bits === 4 ? 128 : 256));
    const minSize = o.minQuantizedSize ?? 4096;
    if (!Number.isInteger(minSize) || minSize < 0) throw new Error(`minQuantizedSize must be an integer >= 0, got ${minSize}`);
    this.minQuantizedSize = minSize;
    this.float32StatePatterns = toPatterns('float32StatePatterns', o.float32StatePatterns ?? ['[Ss]table.?[Ee]mbedding']);
  }

  /** True when `name` (with `size` elements) gets 8-bit state. */
  quantizes(name: string, size: number): boolean {
    return this.optimBits !== 32 && size >= this.minQuantizedSize && !matchesAny(this.float32StatePatterns, name);
  }

  /** Runs the fused kernel on a variable: returns the kernel's first output (new parameter or LAMB update). */
  protected fusedUpdate(name: string, variable: tf.Variable, grad: tf.Tensor, attrs: Omit<Fused8bitAttrs, 'n' | 'blockSize' | 'fresh' | 'bits'>): tf.Tensor {
    const n = variable.size;
    const bits = this.optimBits;
    const len = packedStateLength(n, ALGO_STATES[attrs.algo]!, this.blockSize, bits);
    const slot = packedSlot(bits);
    const fresh = this.getSlot(name, slot) === undefined;
    const state = this.ensureSlot(name, slot, () => tf.zeros([len], 'int32'));
    if (state.size !== len || state.dtype !== 'int32') {
      throw new Error(`state of '${name}' has ${state.size} ${state.dtype} values, expected ${len} int32 (was it saved with another blockSize?)`);
    }
    const [out, next] = fused8bitStep(tf.reshape(variable, [n]), tf.reshape(grad, [n]), state, {
      ...attrs,
      n,
      blockSize: this.blockSize,
      fresh: fresh ? 1 : 0,
      bits,
    });
    state.assign(next);
    return out;
  }

  /** The 8-bit settings for `getConfig`. */
  protected eightBitConfig(): tf.serialization.ConfigDict {
    return {
      blockSize: this.blockSize,
      optimBits: this.optimBits,
      minQuantizedSize: this.minQuantizedSize,
      float32StatePatterns: this.float32StatePatterns.map((p) => p.source),
    };
  }
}

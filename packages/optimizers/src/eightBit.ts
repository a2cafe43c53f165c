import * as tf from '@tensorflow/tfjs-core';
import { ALGO_STATES, fused8bitStep, packedStateLength, type Fused8bitAttrs } from './fused8bit.js';
import { matchesAny, toPatterns } from './hyper.js';
import { BlockwiseOptimizer } from './optimizerBase.js';
import { checkBlockSize } from './quantize.js';

/** Options shared by the 8-bit optimizers (bitsandbytes' names in camelCase). */
export interface EightBitOptions {
  /** Elements per quantization block, a positive multiple of 32 (default 256). */
  blockSize?: number;
  /** 8 for quantized state, 32 for float32 state (default 8). */
  optimBits?: 8 | 32;
  /** Tensors with fewer elements keep float32 state (default 4096, as bitsandbytes). */
  minQuantizedSize?: number;
  /**
   * Variables whose name matches any of these (RegExps or regex sources) keep float32 state
   * (default `['[Ss]table.?[Ee]mbedding']`, the weights of `StableEmbedding` layers; written without
   * underscores because tfjs-layers camel-cases strings when it loads a saved optimizer config).
   */
  float32StatePatterns?: (string | RegExp)[];
}

/** Slot name of the packed quantized state. */
export const PACKED_SLOT = 'q8';

/**
 * Base of the 8-bit optimizers: decides per variable between float32 state and the packed
 * 8-bit state, and runs the fused kernel for the latter.
 */
export abstract class EightBitOptimizer extends BlockwiseOptimizer {
  /** Elements per quantization block. */
  readonly blockSize: number;
  /** 8 or 32. */
  readonly optimBits: 8 | 32;
  /** Smallest tensor that gets quantized state. */
  readonly minQuantizedSize: number;
  /** Names that keep float32 state. */
  readonly float32StatePatterns: RegExp[];

  constructor(o: EightBitOptions) {
    super();
    this.blockSize = checkBlockSize(o.blockSize ?? 256);
    const bits = o.optimBits ?? 8;
    if (bits !== 8 && bits !== 32) throw new Error(`optimBits must be 8 or 32, got ${String(bits)}`);
    this.optimBits = bits;
    const minSize = o.minQuantizedSize ?? 4096;
    if (!Number.isInteger(minSize) || minSize < 0) throw new Error(`minQuantizedSize must be an integer >= 0, got ${minSize}`);
    this.minQuantizedSize = minSize;
    this.float32StatePatterns = toPatterns('float32StatePatterns', o.float32StatePatterns ?? ['[Ss]table.?[Ee]mbedding']);
  }

  /** True when `name` (with `size` elements) gets 8-bit state. */
  quantizes(name: string, size: number): boolean {
    return this.optimBits === 8 && size >= this.minQuantizedSize && !matchesAny(this.float32StatePatterns, name);
  }

  /** Runs the fused kernel on a variable: returns the kernel's first output (new parameter or LAMB update). */
  protected fusedUpdate(name: string, variable: tf.Variable, grad: tf.Tensor, attrs: Omit<Fused8bitAttrs, 'n' | 'blockSize' | 'fresh'>): tf.Tensor {
    const n = variable.size;
    const len = packedStateLength(n, ALGO_STATES[attrs.algo]!, this.blockSize);
    const fresh = this.getSlot(name, PACKED_SLOT) === undefined;
    const state = this.ensureSlot(name, PACKED_SLOT, () => tf.zeros([len], 'int32'));
    if (state.size !== len || state.dtype !== 'int32') {
      throw new Error(`state of '${name}' has ${state.size} ${state.dtype} values, expected ${len} int32 (was it saved with another blockSize?)`);
    }
    const [out, next] = fused8bitStep(tf.reshape(variable, [n]), tf.reshape(grad, [n]), state, {
      ...attrs,
      n,
      blockSize: this.blockSize,
      fresh: fresh ? 1 : 0,
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

import * as tf from '@tensorflow/tfjs-core';
import { checkNumber, checkOneOf } from '@blockwise/tensor';
import { fused8bitStep, packedStateLength, type Fused8bitAttrs } from './fused8bit.js';
import { lastFused8bitPath, wasmSimdSupported } from './fused8bitSimd.js';
import { matchesAny, toPatterns } from './hyper.js';
import { ALGO_STATES, type Algo8, type KernelChoice } from './kernelDefs.js';
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
  /**
   * Implementation of the fused steps on cpu and wasm: 'auto' (default: WebAssembly SIMD where
   * the engine has it), 'simd' or 'js' (the typed-array reference). All give the same bits;
   * `lastKernel()` says which ran (8-bit and 4-bit states alike).
   */
  kernel?: KernelChoice;
}

/** Option names every 8-bit optimizer takes besides its hyperparameters and `kernel`. */
export const EIGHT_BIT_KEYS = ['blockSize', 'optimBits', 'minQuantizedSize', 'float32StatePatterns'] as const;

/** Slot name of the packed quantized state: `q8` or `q4`. */
export const packedSlot = (bits: number): string => `q${bits}`;

/**
 * Base of the 8-bit optimizers: decides per variable between float32 state and the packed
 * 8-bit state, and runs the fused kernel for the latter.
 */
export abstract class EightBitOptimizer<K extends string = string> extends BlockwiseOptimizer<K> {
  /** Elements per quantization block. */
  readonly blockSize: number;
  /** 4, 8 or 32. */
  readonly optimBits: 4 | 8 | 32;
  /** Smallest tensor that gets quantized state. */
  readonly minQuantizedSize: number;
  /** Names that keep float32 state. */
  readonly float32StatePatterns: RegExp[];

  /** `o` was checked for unknown names by the subclass. */
  constructor(o: EightBitOptions) {
    super(o.kernel);
    const bits = checkOneOf('optimBits', o.optimBits ?? 8, [4, 8, 32] as const);
    this.optimBits = bits;
    this.blockSize = checkBlockSize(o.blockSize ?? (bits === 4 ? 128 : 256));
    this.minQuantizedSize = checkNumber('minQuantizedSize', o.minQuantizedSize ?? 4096, { min: 0, integer: true });
    this.float32StatePatterns = toPatterns(
      'float32StatePatterns',
      o.float32StatePatterns ?? ['[Ss]table.?[Ee]mbedding'],
    );
  }

  /** True when `name` (with `size` elements) gets 8-bit state. */
  quantizes(name: string, size: number): boolean {
    return this.optimBits !== 32 && size >= this.minQuantizedSize && !matchesAny(this.float32StatePatterns, name);
  }

  /** Runs the fused kernel on a variable: returns the kernel's first output (new parameter or LAMB update). */
  protected fusedUpdate(
    name: string,
    variable: tf.Variable,
    grad: tf.Tensor,
    attrs: Omit<Fused8bitAttrs, 'n' | 'blockSize' | 'fresh' | 'bits' | 'impl'>,
  ): tf.Tensor {
    const n = variable.size;
    const bits = this.optimBits;
    const S = ALGO_STATES[attrs.algo as Algo8];
    const len = packedStateLength(n, S, this.blockSize, bits);
    const slot = packedSlot(bits);
    const fresh = this.getSlot(name, slot) === undefined;
    const state = this.ensureSlot(name, slot, () => tf.zeros([len], 'int32'));
    if (state.size !== len || state.dtype !== 'int32') {
      throw new Error(
        `state of '${name}' has ${state.size} ${state.dtype} values, expected ${len} int32 (was it saved with another blockSize?)`,
      );
    }
    const words = this.loaded.get(state);
    if (words) {
      checkBlockMaxima(name, words, len - S * Math.ceil(n / this.blockSize));
      this.loaded.delete(state);
    }
    lastFused8bitPath.path = 'none';
    // On wasm the variable goes in as it is (the kernel reads n from its attributes): a reshaped
    // view would share its memory and keep the kernel from updating it in place.
    const flat = tf.getBackend() === 'wasm' ? variable : tf.reshape(variable, [n]);
    const [out, next] = fused8bitStep(flat, tf.reshape(grad, [n]), state, {
      ...attrs,
      n,
      blockSize: this.blockSize,
      fresh: fresh ? 1 : 0,
      bits,
      impl: this.kernel,
    });
    const path: string = lastFused8bitPath.path;
    this.noteKernel(tf.getBackend() === 'webgpu' ? 'wgsl' : path === 'heap' || path === 'copy' ? 'wasm-simd' : 'js');
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

/**
 * Throws when a loaded packed state's block maxima (float32 bit patterns after the codes) are not
 * finite and >= 0: such a state would turn parameters NaN. Checked at the state's first use, on
 * the words `setWeights` read (no read from the device here, so WebGPU is checked too).
 */
function checkBlockMaxima(name: string, words: Int32Array, from: number): void {
  const maxima = new Float32Array(words.buffer, words.byteOffset + 4 * from, words.length - from);
  for (let i = 0; i < maxima.length; i++) {
    const x = maxima[i]!;
    if (!(x >= 0 && x - x === 0))
      throw new Error(
        `setWeights: packed state '${name}' has block maximum ${x} at block ${i}; it must be finite and >= 0 (corrupted checkpoint?)`,
      );
  }
}

/** @internal Whether `kernel: 'simd'` can run the 8-bit kernels here. */
export const eightBitSimd = wasmSimdSupported;

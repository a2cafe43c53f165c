export { createDynamicMap } from './dynamicMap.js';
export {
  quantizeBlockwise,
  dequantizeBlockwise,
  nearestCode,
  type BlockwiseOptions,
  type QuantizedBlocks,
} from './quantize.js';
export type { HyperParameter } from './hyper.js';
export { BlockwiseOptimizer, type NamedTensor } from './optimizerBase.js';
export { AdamW, type AdamWOptions } from './adamw.js';
export { EightBitOptimizer, type EightBitOptions } from './eightBit.js';
export { Adam8bit, AdamW8bit, type Adam8bitOptions } from './adam8bit.js';
export { Lion, Lion8bit, type LionOptions, type Lion8bitOptions } from './lion.js';
export { Momentum8bit, type Momentum8bitOptions } from './momentum8bit.js';
export { LAMB, LAMB8bit, type LAMBOptions, type LAMB8bitOptions } from './lamb.js';
export { LARS, type LARSOptions } from './lars.js';
export { Muon, type MuonOptions } from './muon.js';
export { newtonSchulz } from './newtonSchulz.js';
export { optimizerStateBytes } from './stateBytes.js';
export { decodePackedState, packedStateLength } from './fused8bit.js';
export { wasmSimdSupported } from './fused8bitSimd.js';
export type { KernelChoice, KernelName } from './kernelDefs.js';

export { createDynamicMap } from './dynamicMap.js';
export { quantizeBlockwise, dequantizeBlockwise, nearestCode, type BlockwiseOptions, type QuantizedBlocks } from './quantize.js';
export type { HyperParameter } from './hyper.js';
export { BlockwiseOptimizer, type NamedTensor } from './optimizerBase.js';
export { AdamW, type AdamWOptions } from './adamw.js';
export { EightBitOptimizer, type EightBitOptions } from './eightBit.js';
export { Adam8bit, AdamW8bit, type Adam8bitOptions } from './adam8bit.js';
export { optimizerStateBytes } from './stateBytes.js';

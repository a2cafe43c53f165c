export { createBlockMask, checkBlockMask, type BlockMask, type BlockMaskOptions, type MaskMod } from './blockMask.js';
export { causal, fullMask, slidingWindow, prefixLM, documents, blockCausal, contextCausal, blockRank, and, or, not, blockDiffusion } from './masks.js';

export { createBlockMask, type BlockMask, type BlockMaskOptions, type MaskMod } from './blockMask.js';
export {
  causal,
  fullMask,
  slidingWindow,
  prefixLM,
  documents,
  blockCausal,
  contextCausal,
  blockRank,
  and,
  or,
  not,
  blockDiffusion,
} from './masks.js';
export { denseAttention, type DenseAttentionOptions, type AttentionWithLse } from './dense.js';
export { blockSparseAttention, chooseImpl, type BlockSparseAttentionOptions } from './blockSparseAttention.js';
export { selectBlocks, type SelectBlocksOptions } from './selectBlocks.js';
export {
  permutedBlockSparseAttention,
  type PermutedAttentionOptions,
  type PermutedAttentionResult,
} from './permuted.js';
export {
  decodeBlockDiffusion,
  type BlockDiffusionModel,
  type BlockDecodeOptions,
  type BlockDecodeResult,
  type AdaptiveBlockOptions,
} from './decoding.js';

export { StableEmbedding, type StableEmbeddingArgs } from './stableEmbedding.js';

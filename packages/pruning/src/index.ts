export {
  weightMatrix,
  maskDensity,
  applyMask,
  type WeightMatrix,
  type Mask,
  type DensityOption,
  type NMPattern,
} from './matrix.js';
export { magnitudeMask, globalMagnitudeMasks, type MagnitudeMaskOptions } from './magnitude.js';
export { wandaScores, wandaMask, type WandaMaskOptions } from './wanda.js';
export {
  createLayerStats,
  accumulateLayerStats,
  layerStatsFromInputs,
  inputNorms,
  layerHessian,
  reconstructionError,
  type LayerStats,
  type LayerStatsOptions,
} from './calibration.js';
export { sparseGPTPrune, type SparseGPTOptions, type SparseGPTResult } from './sparsegpt.js';
export type { AnnealOptions } from './anneal.js';
export { icbsPrune, icbsObjective, type ICBSOptions, type ICBSResult, type BlockSelection } from './icbs.js';
export { resolveTargets, type LayerSelector, type TargetLayer } from './targets.js';
export { collectCalibration, type CollectOptions } from './collect.js';
export { applyMasks, type PruneModelOptions, type Calibration } from './prune-model.js';
export {
  pruneMagnitude,
  pruneWanda,
  pruneSparseGPT,
  pruneICBS,
  type PruneMagnitudeOptions,
  type PruneWandaOptions,
  type PruneSparseGPTOptions,
  type PruneICBSOptions,
} from './prune-methods.js';
export type { PruneReport, LayerReport, PruningMasks } from './report.js';
export {
  encodeMasks,
  decodeMasks,
  masksToJSON,
  masksFromJSON,
  attachMasks,
  masksFromModel,
  type MaskEntrySpec,
} from './masks-io.js';
export {
  polynomialDensitySchedule,
  createGradualPruner,
  type PolynomialDensityOptions,
  type GradualPrunerOptions,
  type GradualPruner,
} from './gradual.js';

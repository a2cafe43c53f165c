export {
  condOTScheduler,
  polynomialScheduler,
  cosineScheduler,
  vpScheduler,
  type Scheduler,
  type SchedulerOutput,
} from './schedulers.js';
export { affinePath, type AffinePath, type PathSample, type Times } from './path.js';
export { flipTime, flipTimeGrid, flipVelocity, fromNoiseAtOne, toNoiseAtOne } from './convention.js';
export {
  checkTimeGrid,
  uniformTimeGrid,
  shiftTime,
  shiftTimeGrid,
  dynamicShiftMu,
  dynamicShiftTime,
  dynamicShiftTimeGrid,
  type DynamicShiftOptions,
} from './timegrid.js';
export {
  solveOde,
  STAGES,
  type VelocityFn,
  type OdeMethod,
  type FixedMethod,
  type SolveOdeOptions,
  type OdeResult,
} from './ode.js';
export type { AdaptiveOptions, AdaptiveMethod } from './adaptive.js';
export { guidedVelocity, classifierFreeGuidance, type GuidanceConvention, type GuidanceOptions } from './guidance.js';
export {
  logLikelihood,
  divergence,
  standardNormalLogProb,
  type LogLikelihoodOptions,
  type LogLikelihoodResult,
} from './likelihood.js';
export { linearAssignment, squaredDistances, type Assignment } from './assignment.js';
export {
  slicedWasserstein,
  mmdRbf,
  exactW2,
  frechetDistance,
  type SlicedWassersteinOptions,
  type MmdOptions,
} from './metrics.js';
export { sampleToy, type ToyName } from './toys.js';
export { createMlp, denseFlops, timeFeatures, type Mlp, type MlpConfig, type Activation } from './mlp.js';
export {
  createVelocityMlp,
  velocityFromLayersModel,
  asVelocityFn,
  type VelocityModel,
  type VelocityMlpConfig,
  type LayersModelLike,
} from './velocity.js';
export {
  flowMatchingLoss,
  otCoupling,
  drawFlowBatch,
  trainFlowMatching,
  type FlowBatch,
  type TrainOptions,
} from './training.js';
export { createFeatureGuidance, type FeatureGuidance, type FeatureGuidanceConfig } from './features.js';
export {
  BlockwiseFlow,
  segmentBoundaries,
  type BlockwiseFlowConfig,
  type BlockwiseSampleOptions,
  type BlockwiseLosses,
  type BlockwiseTrainOptions,
} from './blockwise.js';
export { trainClassifier, type Classifier, type ClassifierOptions } from './classifier.js';

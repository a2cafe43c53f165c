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
  countedVelocity,
  STAGES,
  type VelocityFn,
  type OdeMethod,
  type SolveOdeOptions,
  type OdeResult,
  type CountedVelocity,
} from './ode.js';
export type { AdaptiveOptions } from './dopri5.js';
export { guidedVelocity, classifierFreeGuidance, type GuidanceConvention, type GuidanceOptions } from './guidance.js';
export {
  logLikelihood,
  divergence,
  standardNormalLogProb,
  type LogLikelihoodOptions,
  type LogLikelihoodResult,
} from './likelihood.js';

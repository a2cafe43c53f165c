export type { Schedule, ScheduleSpec, StepRule } from './schedule.js';
export { defineSchedule, specOf, checkStep, sampleSchedule } from './schedule.js';
export {
  constantSchedule,
  polynomialSchedule,
  linearSchedule,
  exponentialDecay,
  cosineDecay,
  piecewiseConstant,
  piecewiseInterpolate,
  stepDecay,
  multiStepDecay,
  inverseSqrtSchedule,
  type PolynomialOptions,
  type LinearOptions,
  type ExponentialDecayOptions,
  type CosineDecayOptions,
  type PiecewiseConstantOptions,
  type PiecewiseInterpolateOptions,
  type StepDecayOptions,
  type MultiStepDecayOptions,
  type InverseSqrtOptions,
} from './shapes.js';
export {
  joinSchedules,
  withWarmup,
  scaleSchedule,
  clampSchedule,
  multiplySchedules,
  cycleSchedule,
  delaySchedule,
  type WarmupOptions,
  type ClampOptions,
  type CycleOptions,
} from './compose.js';
export {
  warmupConstant,
  warmupCosineDecay,
  warmupExponentialDecay,
  sgdrSchedule,
  linearOneCycle,
  cosineOneCycle,
  type WarmupConstantOptions,
  type WarmupCosineDecayOptions,
  type WarmupExponentialDecayOptions,
  type LinearOneCycleOptions,
  type CosineOneCycleOptions,
} from './warmup.js';
export {
  cyclicSchedule,
  oneCycle,
  cosineWarmRestarts,
  type CyclicOptions,
  type OneCycleOptions,
  type CosineWarmRestartsOptions,
} from './cyclic.js';
export {
  warmupStableDecay,
  wsdsCheckpoints,
  wsdsSchedule,
  rewarmSchedule,
  type DecayShape,
  type WarmupShape,
  type WarmupStableDecayOptions,
  type WsdsOptions,
  type WsdsCheckpoint,
  type RewarmOptions,
} from './wsd.js';
export { rexSchedule, type RexOptions } from './rex.js';
export { powerSchedule, type PowerScheduleOptions } from './power.js';
export { scaleLearningRate, batchScaledSchedule, type BatchScalingOptions } from './batchSize.js';
export { refinedShape, refinedSchedule, type RefinedOptions } from './refined.js';
export type { Kwargs } from './kwargs.js';
export { fromTorch, fromTorchMomentum, torchSchedulerNames } from './torch.js';
export { fromOptax, optaxScheduleNames } from './optax.js';
export { fromTransformers, transformersSchedulerNames } from './transformers.js';
export { fromTimm, timmSchedulerNames } from './timm.js';
export {
  fitLossCurve,
  predictLossCurve,
  scheduleLrs,
  rankSchedules,
  forecastError,
  type LossCurveFit,
  type FitLossCurveOptions,
  type RankedSchedule,
  type ForecastError,
} from './forecast.js';
export {
  hypergradientInit,
  hypergradientStep,
  createHypergradientLR,
  type HypergradientOptions,
  type HypergradientState,
  type HypergradientLR,
} from './hypergradient.js';
export { autoLRS, type AutoLRSOptions, type AutoLRSTrial, type AutoLRSResult } from './autolrs.js';
export {
  oneCycleMomentum,
  cosineRamp,
  weightDecaySchedule,
  multigridSchedule,
  mixtureSchedule,
  blockSizeCurriculum,
  polynomialSparsity,
  type OneCycleMomentumOptions,
  type RampOptions,
  type ValueSchedule,
  type BatchShape,
  type MultigridOptions,
  type MixtureOptions,
  type BlockSizeCurriculumOptions,
  type PolynomialSparsityOptions,
} from './hyperparams.js';
export { specTypes, toSpec, fromSpec, validateSpec } from './spec.js';
export { plotSvg, plotTerminal, plot, type PlotSeries, type PlotOptions } from './plot.js';

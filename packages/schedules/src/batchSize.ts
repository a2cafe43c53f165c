/** Batch-size scaling rules for a reference LR (arXiv 2006.09092): linear for SGD, square root for adaptive methods. */
import { checkSchedule, defineSchedule, type Schedule } from './schedule.js';
import { knownKeys, nonNegative, objectArg, oneOf, positive } from './validate.js';

/** Options of {@link scaleLearningRate}. */
export interface BatchScalingOptions {
  /** Batch size the reference LR was tuned at. */
  baseBatchSize: number;
  /** Batch size of the new run. */
  batchSize: number;
  /** linear (SGD) or sqrt (Adam-style); or give `optimizer` instead. */
  rule?: 'linear' | 'sqrt';
  /** sgd -> linear, adam -> sqrt. */
  optimizer?: 'sgd' | 'adam';
}

function ruleOf(options: BatchScalingOptions): 'linear' | 'sqrt' {
  if (options.rule !== undefined && options.optimizer !== undefined)
    throw new TypeError('give either rule or optimizer, not both');
  if (options.rule !== undefined) return oneOf('rule', options.rule, ['linear', 'sqrt'] as const);
  if (options.optimizer !== undefined)
    return oneOf('optimizer', options.optimizer, ['sgd', 'adam'] as const) === 'sgd' ? 'linear' : 'sqrt';
  throw new TypeError('batch scaling needs rule ("linear" | "sqrt") or optimizer ("sgd" | "adam")');
}

/** lr * (B/B0) for the linear rule, lr * sqrt(B/B0) for the square-root rule. */
export function scaleLearningRate(lr: number, options: BatchScalingOptions): number {
  nonNegative('lr', lr);
  objectArg('options', options);
  knownKeys('scaleLearningRate', options, ['baseBatchSize', 'batchSize', 'rule', 'optimizer']);
  const ratio = positive('batchSize', options.batchSize) / positive('baseBatchSize', options.baseBatchSize);
  return ruleOf(options) === 'linear' ? lr * ratio : lr * Math.sqrt(ratio);
}

/** The schedule multiplied by the batch-size scaling factor. */
export function batchScaledSchedule(schedule: Schedule, options: BatchScalingOptions): Schedule {
  checkSchedule('schedule', schedule);
  const factor = scaleLearningRate(1, options);
  return defineSchedule({ type: 'batchScaledSchedule', schedule, ...options }, (t) => factor * schedule(t));
}

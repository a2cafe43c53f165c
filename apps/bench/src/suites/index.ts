import type { Suite } from '../suite.js';
import { attentionSuite } from './attention.js';
import { backendsSuite } from './backends.js';
import { digitsGenSuite } from './digits-gen.js';
import { flowSuite } from './flow.js';
import { lmSuite } from './lm.js';
import { optimizersSuite } from './optimizers.js';
import { pruningSuite } from './pruning.js';
import { schedulesSuite } from './schedules.js';

/** Every suite, in the order `npm run bench` runs them: packages first, then end to end. */
export const suites: Suite[] = [
  backendsSuite,
  schedulesSuite,
  optimizersSuite,
  attentionSuite,
  pruningSuite,
  flowSuite,
  lmSuite,
  digitsGenSuite,
];

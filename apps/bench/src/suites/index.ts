import type { Suite } from '../suite.js';
import { backendsSuite } from './backends.js';
import { lmSuite } from './lm.js';

/** Every suite, in the order `npm run bench` runs them. */
export const suites: Suite[] = [backendsSuite, lmSuite];

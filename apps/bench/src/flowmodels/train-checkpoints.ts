/**
 * Trains the flow checkpoints shipped under apps/bench/checkpoints/flow/ from a seed:
 *
 *   npx tsx apps/bench/src/flowmodels/train-checkpoints.ts --seed 1
 *
 * Options: --only ID[,ID...] (e.g. checkerboard-single, digits-classifier), --steps N (override
 * every model's training steps, for trials), --out DIR (write there instead of the shipped
 * folder), --backend NAME (default wasm). Prints each model's quality at 4 to 64 Euler steps.
 */
import { initBackend, type BackendName } from '@blockwise/tensor';
import { join } from 'node:path';
import { benchData } from '../data.js';
import { trainFlowModels } from './pipeline.js';

function parse(argv: string[]): { seed: number; only?: string[]; steps?: number; out?: string; backend: BackendName } {
  const o: { seed: number; only?: string[]; steps?: number; out?: string; backend: BackendName } = {
    seed: 1,
    backend: 'wasm',
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!;
    const v = argv[++i];
    if (v === undefined) throw new Error(`${flag} needs a value`);
    if (flag === '--seed' || flag === '--steps') {
      const n = Number(v);
      if (!Number.isInteger(n) || (flag === '--steps' && n < 1))
        throw new Error(`${flag} must be an integer${flag === '--steps' ? ' >= 1' : ''}, got ${v}`);
      if (flag === '--seed') o.seed = n;
      else o.steps = n;
    } else if (flag === '--only') o.only = v.split(',');
    else if (flag === '--out') o.out = v;
    else if (flag === '--backend') o.backend = v as BackendName;
    else throw new Error(`unknown option ${flag}; options are --seed, --only, --steps, --out, --backend`);
  }
  return o;
}

const o = parse(process.argv.slice(2));
await initBackend(o.backend);
const command =
  `npx tsx apps/bench/src/flowmodels/train-checkpoints.ts --seed ${o.seed}` + (o.steps ? ` --steps ${o.steps}` : '');
await trainFlowModels({
  seed: o.seed,
  digits: benchData.digits(),
  only: o.only,
  stepsOverride: o.steps,
  saveDir: o.out ? (name) => join(o.out!, name) : undefined,
  command,
  log: (m) => console.log(`[${new Date().toISOString().slice(11, 19)}] ${m}`),
});

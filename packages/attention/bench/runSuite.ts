// Runs the bench app's attention suite with a minimal context (until the CLI lists it).
import { initBackend } from '@blockwise/tensor';
import { attentionSuite } from '../../../apps/bench/src/suites/attention.js';

const backend = (process.argv[2] ?? 'wasm') as 'wasm' | 'cpu' | 'webgpu';
const full = process.argv.includes('--full');
await initBackend(backend);
const t0 = performance.now();
const ctx = {
  backend, quick: !full, full, seed: 1,
  progress: (l: string, d: number, t: number) => console.error(`${l} ${d}/${t} ${((performance.now() - t0) / 1000).toFixed(1)}s`),
  log: console.log, chart: (c: unknown) => console.log(JSON.stringify(c).slice(0, 400)),
  writeFile: () => '', image: () => '', data: { digits: () => { throw new Error('no'); }, text: () => '' },
};
const results = await attentionSuite.run(ctx as never);
for (const r of results) console.log(r.params.impl, r.params.seqLen, r.params.sparsity, r.metrics.forwardMs!.value.toFixed(1), r.metrics.forwardBackwardMs!.value.toFixed(1));
for (const c of attentionSuite.validate!(results, ctx as never)) console.log(c.pass ? 'PASS' : 'FAIL', c.name, '|', c.detail);
console.log('total', ((performance.now() - t0) / 1000).toFixed(1), 's');

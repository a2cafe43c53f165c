import { initBackend } from '@blockwise/tensor';
import { writeFileSync } from 'node:fs';
import { benchData } from '../data.js';
import { lmSuite } from '../suites/lm.js';
const backend = (process.argv[2] ?? 'wasm') as 'wasm';
await initBackend(backend);
const t0 = performance.now();
const ctx = {
  backend, quick: !process.argv.includes('--full'), full: process.argv.includes('--full'), seed: 1,
  progress: (l: string, d: number, t: number) => { if (d === t) console.error(`${((performance.now() - t0) / 1000).toFixed(1)}s ${l} ${d}/${t}`); },
  log: (s: string) => console.error(s), chart: () => {}, writeFile: () => '', image: () => '', data: benchData,
};
const results = await lmSuite.run(ctx as never);
console.log(`run ${((performance.now() - t0) / 1000).toFixed(1)} s`);
for (const r of results) console.log(r.name, Object.entries(r.metrics).map(([k, v]) => `${k}=${v.value.toFixed(3)}`).join(' '), r.samples ? JSON.stringify(r.samples[0]) : '');
for (const c of lmSuite.validate!(results, ctx as never)) console.log(c.pass ? 'PASS' : 'FAIL', c.name, '--', c.detail);
writeFileSync('/tmp/h7/results.json', JSON.stringify(results, null, 1));

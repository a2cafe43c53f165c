#!/usr/bin/env node
// The newcomer's test: each package as npm would deliver it. For every package: pack it and its
// siblings, make an empty folder, run the README's install line with the sibling names replaced
// by their tarballs, run the README's quick start with plain `node` as an ES module and as
// CommonJS (imports turned into requires), compare what it prints with the README, and
// type-check a TypeScript consumer with --strict --module nodenext (ESM and CJS).
// No source aliases, no vitest transforms. Usage: node scripts/packed-test.mjs [package ...]
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { compareOutput, readmeQuickStart, toCommonJs } from './readme.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const all = ['tensor', 'schedules', 'optimizers', 'attention', 'pruning', 'flow'];
const only = process.argv.slice(2);
const packages = only.length ? only : all;
const work = mkdtempSync(join(tmpdir(), 'blockwise-packed-'));
const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
let passed = 0;
let failed = 0;

function check(name, fn) {
  const t0 = Date.now();
  try {
    fn();
    passed++;
    console.log(`ok    ${name} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
  } catch (e) {
    failed++;
    console.log(
      `FAIL  ${name}: ${String(e.message ?? e)
        .trim()
        .split('\n')
        .slice(0, 25)
        .join('\n      ')}`,
    );
  }
}

function run(cmd, args, cwd, timeout = 240_000) {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', timeout, env: { ...process.env, NODE_OPTIONS: '' } });
  if (r.status !== 0) {
    throw new Error(
      `${cmd} ${args.join(' ')} exited ${r.status ?? r.signal}\n${(r.stdout ?? '').slice(-2000)}${(r.stderr ?? '').slice(-3000)}`,
    );
  }
  return r.stdout;
}

// 1. Pack every package (they must be built: `npm run build`).
const tarDir = join(work, 'tarballs');
mkdirSync(tarDir);
const tarball = {};
const manifest = {};
for (const p of all) {
  const dir = join(root, 'packages', p);
  manifest[p] = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
  if (!existsSync(join(dir, 'dist'))) throw new Error(`packages/${p}/dist is missing: run npm run build first`);
  const out = execFileSync('npm', ['pack', '--silent', '--pack-destination', tarDir], { cwd: dir, encoding: 'utf8' });
  tarball[manifest[p].name] = join(tarDir, out.trim().split('\n').pop());
}

/** The sibling packages `name` pulls in (what the registry would deliver with it). */
function siblingClosure(name, seen = new Set()) {
  const p = all.find((q) => manifest[q].name === name);
  if (!p || seen.has(name)) return seen;
  seen.add(name);
  for (const dep of Object.keys(manifest[p].dependencies ?? {})) siblingClosure(dep, seen);
  return seen;
}

for (const p of packages) {
  const name = manifest[p].name;
  const readme = readFileSync(join(root, 'packages', p, 'README.md'), 'utf8');
  const { install, js, expected } = readmeQuickStart(readme);
  const dir = join(work, p);
  mkdirSync(dir);
  let installed = false;
  check(`${name}: README install line in an empty folder`, () => {
    if (!install) throw new Error('README has no `npm install ...` line in a ```sh block under "## Install"');
    if (!install.includes(name)) throw new Error(`the install line does not install ${name}`);
    writeFileSync(
      join(dir, 'package.json'),
      JSON.stringify({ name: 'newcomer', version: '1.0.0', private: true }) + '\n',
    );
    const args = install.map((a) => tarball[a] ?? a);
    // Siblings the README does not name come with the package, as from the registry.
    for (const a of install) for (const dep of siblingClosure(a)) if (!install.includes(dep)) args.push(tarball[dep]);
    run('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error', ...args], dir, 600_000);
    installed = true;
  });
  if (!installed) continue;
  check(`${name}: quick start runs with plain node (ESM) and prints what the README says`, () => {
    if (!js) throw new Error('README has no ```js block under "## Quick start"');
    if (expected === null) throw new Error('README has no ```text block with the output right after the quick start');
    writeFileSync(join(dir, 'quickstart.mjs'), js);
    const diff = compareOutput(run(process.execPath, ['quickstart.mjs'], dir), expected);
    if (diff) throw new Error(diff);
  });
  check(`${name}: quick start runs with plain node (CommonJS, require)`, () => {
    if (!js || expected === null) throw new Error('no quick start (see above)');
    writeFileSync(join(dir, 'quickstart.cjs'), toCommonJs(js));
    const diff = compareOutput(run(process.execPath, ['quickstart.cjs'], dir), expected);
    if (diff) throw new Error(diff);
  });
  check(`${name}: a TypeScript consumer type-checks with --strict --module nodenext`, () => {
    const specifiers = Object.keys(manifest[p].exports)
      .filter((k) => k !== './package.json')
      .map((k) => name + k.slice(1));
    const body = specifiers
      .map((s, i) => `import * as m${i} from '${s}';\nexport const keys${i}: string[] = Object.keys(m${i});\n`)
      .join('');
    writeFileSync(join(dir, 'consumer.mts'), body);
    writeFileSync(join(dir, 'consumer.cts'), body);
    // A package whose README names a compiler option its users need (and why) is checked with it.
    const extra = JSON.parse(/<!-- consumer-tsc-options: (\{[^>]*\}) -->/.exec(readme)?.[1] ?? '{}');
    const compilerOptions = {
      noEmit: true,
      strict: true,
      module: 'nodenext',
      moduleResolution: 'nodenext',
      target: 'es2022',
      ...extra,
    };
    writeFileSync(
      join(dir, 'tsconfig.json'),
      JSON.stringify({ compilerOptions, files: ['consumer.mts', 'consumer.cts'] }),
    );
    run(process.execPath, [tsc, '-p', 'tsconfig.json'], dir);
  });
}

if (!process.env.KEEP_PACKED) rmSync(work, { recursive: true, force: true });
else console.log(`kept ${work}`);
console.log(`packed: ${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);

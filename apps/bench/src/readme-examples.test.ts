import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
// @ts-expect-error: a plain-JavaScript module shared with scripts/packed-test.mjs (no types)
import { compareOutput, fencedAfter, readmeQuickStart } from '../../../scripts/readme.mjs';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const packages = ['tensor', 'schedules', 'optimizers', 'attention', 'pruning', 'flow'];
const tsx = join(root, 'node_modules', 'tsx', 'dist', 'cli.mjs');
// inside the repository (not node_modules), so tsconfig paths map @blockwise/* to source
const dir = join(root, 'apps', 'bench', '.readme-examples');

function runFile(file: string, code: string): string {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, file), code);
  return execFileSync(process.execPath, [tsx, '--tsconfig', join(root, 'tsconfig.json'), join(dir, file)], {
    cwd: root,
    encoding: 'utf8',
    timeout: 120_000,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

// Every package README has a plain-JavaScript quick start that prints what the README says, and
// its TypeScript example (if any) runs. Sibling imports resolve to source here; the packed-tarball
// test (scripts/packed-test.mjs, in CI) runs the same quick start against the built tarballs.
describe('README quick starts run as written and print what the README shows', () => {
  for (const name of packages) {
    const readme = readFileSync(join(root, 'packages', name, 'README.md'), 'utf8');
    it(`@blockwise/${name}: quick start`, () => {
      const { install, js, expected } = readmeQuickStart(readme);
      expect(
        install,
        `packages/${name}/README.md needs an npm install line in a sh block under "## Install"`,
      ).not.toBeNull();
      expect(js, `packages/${name}/README.md needs a js block under "## Quick start"`).not.toBeNull();
      expect(
        expected,
        `packages/${name}/README.md needs a text block with the output after its quick start`,
      ).not.toBeNull();
      expect(compareOutput(runFile(`${name}-quickstart.mjs`, js), expected)).toBeNull();
    });
    const ts = fencedAfter(readme, 'Example', 'ts');
    if (ts)
      it(`@blockwise/${name}: TypeScript example`, () => expect(typeof runFile(`${name}.mts`, ts)).toBe('string'));
  }
});

/** The names an entry file exports, split into values and types (named export lists only). */
function exportsOf(file: string): { values: Set<string>; types: Set<string> } {
  const src = readFileSync(file, 'utf8');
  const values = new Set<string>();
  const types = new Set<string>();
  for (const m of src.matchAll(/^export\s+(type\s+)?\{([^}]*)\}/gm)) {
    for (const raw of m[2]!.split(',')) {
      const item = raw.replace(/\/\/.*$|\/\*[\s\S]*?\*\//gm, '').trim();
      if (!item) continue;
      const isType = Boolean(m[1]) || item.startsWith('type ');
      const name = item
        .replace(/^type\s+/, '')
        .split(/\s+as\s+/)
        .pop()!
        .trim();
      (isType ? types : values).add(name);
    }
  }
  for (const m of src.matchAll(
    /^export\s+(?:declare\s+)?(?:async\s+)?(const|let|function\*?|class|enum|type|interface)\s+([A-Za-z_$][\w$]*)/gm,
  )) {
    (m[1] === 'type' || m[1] === 'interface' ? types : values).add(m[2]!);
  }
  return { values, types };
}

describe('README API tables list exactly the exports', () => {
  for (const name of packages) {
    it(`@blockwise/${name}`, () => {
      const pkgDir = join(root, 'packages', name);
      const index = readFileSync(join(pkgDir, 'src', 'index.ts'), 'utf8');
      expect(index, 'index.ts names its exports (no export *)').not.toMatch(/^export \*/m);
      // every public entry: the package root and its subpaths (src/<subpath>.ts)
      const manifest = JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8'));
      const entries = Object.keys(manifest.exports)
        .filter((k) => k !== './package.json')
        .map((k) => join(pkgDir, 'src', k === '.' ? 'index.ts' : `${k.slice(2)}.ts`))
        .filter((f) => existsSync(f));
      const values = new Set<string>();
      const types = new Set<string>();
      for (const f of entries) {
        const e = exportsOf(f);
        e.values.forEach((v) => values.add(v));
        e.types.forEach((t) => types.add(t));
      }
      const readme = readFileSync(join(pkgDir, 'README.md'), 'utf8');
      const at = readme.search(/^## API\b/m);
      expect(at, `packages/${name}/README.md needs an "## API" section`).toBeGreaterThanOrEqual(0);
      const section = readme.slice(at + 3).split(/^## /m)[0]!;
      const listed = new Set<string>();
      for (const line of section.split('\n')) {
        if (!line.startsWith('|') || /^\|\s*-/.test(line)) continue;
        const first = line.split('|')[1] ?? '';
        for (const m of first.matchAll(/`(?:new\s+)?([A-Za-z_$][\w$]*)/g)) listed.add(m[1]!);
      }
      const missing = [...values].filter((v) => !listed.has(v));
      const unknown = [...listed].filter((l) => !values.has(l) && !types.has(l));
      expect(missing, `exports missing from the API table of packages/${name}/README.md`).toEqual([]);
      expect(unknown, `API table names of packages/${name}/README.md that are not exports`).toEqual([]);
    });
  }
});

import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const pkgDir = fileURLToPath(new URL('..', import.meta.url));
const scratch = mkdtempSync(join(tmpdir(), 'blockwise-pack-'));
const run = (cmd: string, args: string[], cwd: string) =>
  execFileSync(cmd, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

afterAll(() => rmSync(scratch, { recursive: true, force: true }));

// The published tarball, installed with its peer in an empty project, loads from ESM and CJS.
describe('npm pack of @blockwise/tensor', () => {
  it('installs and imports from ESM and CommonJS', () => {
    run('npx', ['--no-install', 'tsup'], pkgDir); // always the current source
    run('npm', ['pack', '--pack-destination', scratch, '--silent'], pkgDir);
    const tarball = readdirSync(scratch).find((f) => f.endsWith('.tgz'));
    expect(tarball).toBeDefined();
    writeFileSync(join(scratch, 'package.json'), JSON.stringify({ name: 'scratch', private: true }));
    run(
      'npm',
      [
        'install',
        '--no-audit',
        '--no-fund',
        '--prefer-offline',
        '--ignore-scripts',
        `./${tarball}`,
        '@tensorflow/tfjs-core@4.22.0',
        '@tensorflow/tfjs-backend-cpu@4.22.0',
      ],
      scratch,
    );
    const probe =
      "const r = t.createRng(1); const x = r.next(); if (!(x >= 0 && x < 1)) throw new Error('bad'); " +
      "t.initBackend('cpu').then((i) => console.log(i.backend, typeof t.defineKernel, typeof t.blockAbsmax));";
    const esm = run('node', ['--input-type=module', '-e', `import * as t from '@blockwise/tensor'; ${probe}`], scratch);
    const cjs = run('node', ['-e', `const t = require('@blockwise/tensor'); ${probe}`], scratch);
    expect(esm.trim().split('\n').pop()).toBe('cpu function function');
    expect(cjs.trim().split('\n').pop()).toBe('cpu function function');
  });
});

import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const packages = ['tensor', 'schedules', 'optimizers', 'attention', 'pruning', 'flow'];

/** The first ```ts block after the "## Example" heading of a README, or null. */
function example(readme: string): string | null {
  const at = readme.search(/^## Example/m);
  if (at < 0) return null;
  const m = /```ts\n([\s\S]*?)```/.exec(readme.slice(at));
  return m ? m[1]! : null;
}

// Every package README has an example that runs as written (sibling imports resolve to source).
describe('README examples run as written', () => {
  for (const name of packages) {
    const readmePath = join(root, 'packages', name, 'README.md');
    const code = existsSync(readmePath) ? example(readFileSync(readmePath, 'utf8')) : null;
    it(`@blockwise/${name}`, () => {
      expect(code, 'packages/' + name + '/README.md needs a ts code block under "## Example"').not.toBeNull();
      // inside the repository (not node_modules), so tsconfig paths map @blockwise/* to source
      const dir = join(root, 'apps', 'bench', '.readme-examples');
      mkdirSync(dir, { recursive: true });
      const file = join(dir, `${name}.mts`);
      writeFileSync(file, code!);
      const tsx = join(root, 'node_modules', 'tsx', 'dist', 'cli.mjs');
      const out = execFileSync(process.execPath, [tsx, '--tsconfig', join(root, 'tsconfig.json'), file], {
        cwd: root,
        encoding: 'utf8',
        timeout: 120_000,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      expect(typeof out).toBe('string');
    });
  }
});

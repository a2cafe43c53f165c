// Reads the parts of a package README that a newcomer copies: the install line, the
// plain-JavaScript quick start and the output it says it prints; compares printed output.
// Used by scripts/packed-test.mjs (plain node, packed tarballs) and by the vitest README test.

/** The body of the first fenced block of `lang` after heading `heading` (before the next `## `), or null. */
export function fencedAfter(readme, heading, lang) {
  const at = readme.search(new RegExp(`^## ${heading}\\b`, 'm'));
  if (at < 0) return null;
  const rest = readme.slice(at + 3);
  const end = rest.search(/^## /m);
  const section = end < 0 ? rest : rest.slice(0, end);
  const m = new RegExp('```' + lang + '\\n([\\s\\S]*?)```').exec(section);
  return m ? m[1] : null;
}

/**
 * The README's newcomer parts: `install` (the arguments of its `npm install` line), `js` (the
 * quick start) and `expected` (the ```text block right after the quick start, or null).
 */
export function readmeQuickStart(readme) {
  const sh = fencedAfter(readme, 'Install', 'sh');
  const line = sh?.split('\n').find((l) => /^\s*npm (install|i) /.test(l));
  const install = line
    ? line
        .trim()
        .split(/\s+/)
        .slice(2)
        .filter((a) => !a.startsWith('-'))
    : null;
  const at = readme.search(/^## Quick start\b/m);
  let js = null;
  let expected = null;
  if (at >= 0) {
    const rest = readme.slice(at);
    const m = /```js\n([\s\S]*?)```\s*(?:[^\n`]*\n\s*)?(?:```text\n([\s\S]*?)```)?/.exec(rest);
    if (m) {
      js = m[1];
      expected = m[2] ?? null;
    }
  }
  return { install, js, expected };
}

const numberRe = /^[-+]?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?%?[,;:)]*$/i;

/**
 * Compares printed output with the README's: the same lines and words, numbers within 1%
 * relative or 1e-3 absolute (backends round differently). Returns null when they agree, else
 * a message naming the first difference.
 */
export function compareOutput(actual, expected) {
  const lines = (s) =>
    s
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l.length > 0);
  const a = lines(actual);
  const e = lines(expected);
  if (a.length !== e.length) return `printed ${a.length} lines, the README shows ${e.length}:\n${actual}`;
  for (let i = 0; i < e.length; i++) {
    const aw = a[i].split(/\s+/);
    const ew = e[i].split(/\s+/);
    const bad = `line ${i + 1}: printed "${a[i]}", the README shows "${e[i]}"`;
    if (aw.length !== ew.length) return bad;
    for (let j = 0; j < ew.length; j++) {
      if (aw[j] === ew[j]) continue;
      if (!numberRe.test(aw[j]) || !numberRe.test(ew[j])) return bad;
      const x = parseFloat(aw[j]);
      const y = parseFloat(ew[j]);
      if (!(Math.abs(x - y) <= Math.max(1e-3, 0.01 * Math.abs(y)))) return bad;
    }
  }
  return null;
}

/** Turns an ES-module quick start into a CommonJS script: imports become requires, the body an async function. */
export function toCommonJs(js) {
  const body = js
    .replace(/^import\s+([\s\S]*?)\s+from\s+(['"][^'"]+['"]);?/gm, (_, what, from) => {
      const spec = what.trim();
      const star = /^\*\s+as\s+(\w+)$/.exec(spec);
      if (star) return `const ${star[1]} = require(${from});`;
      const named = /^\{([\s\S]*)\}$/.exec(spec);
      if (named) return `const { ${named[1].replace(/\s+as\s+/g, ': ').trim()} } = require(${from});`;
      const def = /^(\w+)\s*,\s*\{([\s\S]*)\}$/.exec(spec);
      if (def)
        return `const ${def[1]} = require(${from});\nconst { ${def[2].replace(/\s+as\s+/g, ': ').trim()} } = ${def[1]};`;
      return `const ${spec} = require(${from});`;
    })
    .replace(/^import\s+(['"][^'"]+['"]);?/gm, 'require($1);');
  return `'use strict';\n(async () => {\n${body}\n})().catch((e) => { console.error(e); process.exit(1); });\n`;
}

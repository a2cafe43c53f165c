// One-off codemod (kept for the record of the formatting commit): `x[i] as number` -> `x[i]!`,
// the house style for indexed reads under noUncheckedIndexedAccess. Usage: node scripts/codemod-nonnull.mjs FILE...
import { readFileSync, writeFileSync } from 'node:fs';
import ts from 'typescript';

for (const file of process.argv.slice(2)) {
  const text = readFileSync(file, 'utf8');
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const edits = [];
  const visit = (node) => {
    if (
      ts.isAsExpression(node) &&
      ts.isElementAccessExpression(node.expression) &&
      node.type.kind === ts.SyntaxKind.NumberKeyword
    ) {
      edits.push([node.getStart(sf), node.getEnd(), node.expression.getText(sf) + '!']);
      return;
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  if (!edits.length) continue;
  let out = text;
  for (const [s, e, r] of edits.sort((a, b) => b[0] - a[0])) out = out.slice(0, s) + r + out.slice(e);
  writeFileSync(file, out);
  console.log(`${file}: ${edits.length}`);
}

// One ESLint setup for the whole repository (typescript-eslint, syntax rules only: fast enough to
// run on every CI pass). Formatting is Prettier's job (.prettierrc.json); these rules catch bugs
// and keep the house style from drifting.
import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  {
    ignores: [
      '**/node_modules/**',
      '**/dist/**',
      '**/.turbo/**',
      'results/**',
      'apps/bench/results/**',
      '**/.readme-examples/**',
      '.gpu/**',
      'coverage/**',
      // generated: WebAssembly modules as base64 (rebuilt by each package's scripts/build-wasm.mjs)
      'packages/*/src/wasm/*Wasm.ts',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node, ...globals.browser } },
    rules: {
      // `x[i]!` is the house style for indexed reads under noUncheckedIndexedAccess, not `x[i] as number`.
      'no-restricted-syntax': [
        'error',
        {
          selector:
            'TSAsExpression[expression.type="MemberExpression"][expression.computed=true][typeAnnotation.type="TSNumberKeyword"]',
          message: 'Write `x[i]!` for an indexed read, not `x[i] as number` (house style).',
        },
      ],
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' },
      ],
      // tfjs kernels and typed-array code index with known-good indices after explicit checks.
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/no-explicit-any': 'off',
      'max-len': [
        'error',
        { code: 160, ignoreStrings: true, ignoreTemplateLiterals: true, ignoreUrls: true, ignoreRegExpLiterals: true },
      ],
    },
  },
  {
    files: ['**/*.cjs'],
    languageOptions: { sourceType: 'commonjs' },
  },
);

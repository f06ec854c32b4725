// ESLint flat config: typescript-eslint's type-checked rules over the sources,
// tests, benchmarks and scripts, plus import rules that keep the layering
// (docs/architecture.md): the core never reaches into the CLI, commands do not
// import each other, and only the CLI knows oclif.
import js from '@eslint/js'
import prettier from 'eslint-config-prettier'
import tseslint from 'typescript-eslint'

// A relative import of src/cli/** or src/commands/**, however many ../ it climbs.
const cliOrCommands = { regex: '^\\.{1,2}/(\\.\\./)*(src/)?(cli|commands)(/|$)', message: 'The core does not depend on the CLI: move what is shared out of src/cli or src/commands.' }
const viaCommands = { regex: '^\\.{1,2}/(\\.\\./)*(src/)?commands(/|$)', message: 'Commands do not import each other: move what is shared to src/cli or the core.' }
const sibling = { regex: '^\\./', message: 'Commands do not import each other: move what is shared to src/cli or the core.' }
const parentInCommands = { regex: '^\\.\\./[^.]', message: 'Commands do not import each other: move what is shared to src/cli or the core.' }
const oclif = { group: ['@oclif/*'], message: 'Only src/cli, src/commands and bin/ use oclif.' }
const chalk = { name: 'chalk', message: 'The core does not colour output: that belongs to src/cli.' }

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'test/go/**', 'src/api/dashboard/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { project: './tsconfig.check.json', tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      // node:test's test() and describe() return promises the runner itself awaits.
      '@typescript-eslint/no-floating-promises': ['error', { allowForKnownSafeCalls: [{ from: 'package', package: 'node:test', name: ['test', 'it', 'describe', 'suite'] }] }],
      // Async functions without await implement async interfaces (LedgerAccess, oclif's run()); dropping `async` would turn their throws into synchronous ones.
      '@typescript-eslint/require-await': 'off',
      // A leading underscore marks a parameter or binding that is unused on purpose; rest siblings drop keys from a copy.
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrorsIgnorePattern: '^_', ignoreRestSiblings: true }],
      // Passing a caught error on unchanged is fine, whatever was thrown.
      '@typescript-eslint/prefer-promise-reject-errors': ['error', { allowThrowingUnknown: true }],
      // Patterns for YAML indentation and aligned columns read best with their spaces as written.
      'no-regex-spaces': 'off',
    },
  },
  {
    files: ['test/**'],
    rules: {
      // Tests read JSON.parse() output of the CLI and the API (any) and assert on it field by field.
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
    },
  },
  {
    files: ['**/*.js', '**/*.mjs'],
    extends: [tseslint.configs.disableTypeChecked],
    languageOptions: { globals: { process: 'readonly', console: 'readonly', URL: 'readonly', Buffer: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly' } },
  },

  // Layering.
  {
    files: ['src/**'],
    ignores: ['src/cli/**', 'src/commands/**'],
    rules: { 'no-restricted-imports': ['error', { paths: [chalk], patterns: [cliOrCommands, oclif] }] },
  },
  {
    files: ['src/commands/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: [sibling, viaCommands] }] },
  },
  {
    files: ['src/commands/*/**'],
    rules: { 'no-restricted-imports': ['error', { patterns: [sibling, parentInCommands, viaCommands] }] },
  },
  {
    files: ['test/**', 'bench/**', 'scripts/**'],
    // scripts/manifest.mjs builds oclif's command manifest.
    ignores: ['scripts/manifest.mjs'],
    rules: { 'no-restricted-imports': ['error', { patterns: [oclif] }] },
  },
  prettier,
)

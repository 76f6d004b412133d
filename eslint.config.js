// Lint rules for Eventline: strict TypeScript, no `any`, type-only imports, no console in runtime code.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/**', '.infra/**', 'dist/**', 'lib/generated/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-console': 'error',
    },
  },
  {
    // The dashboard's browser script.
    files: ['web/assets/**/*.js'],
    languageOptions: { sourceType: 'script', globals: { window: 'readonly', document: 'readonly', fetch: 'readonly', Node: 'readonly', URLSearchParams: 'readonly', Intl: 'readonly' } },
  },
  {
    files: ['**/*.test.ts'],
    rules: {
      'no-restricted-syntax': [
        'error',
        { selector: 'MemberExpression[object.name=/^(it|test|describe|suite)$/][property.name=/^(only|skip|todo)$/]', message: 'No focused or skipped tests.' },
        { selector: 'Property[key.name=/^(only|skip|todo)$/]', message: 'No focused or skipped tests.' },
      ],
    },
  },
  {
    // The CLI, scripts, benchmarks and tests talk to a terminal.
    files: ['cli/**', 'bench/**', 'test/**', 'infra/**', 'schemas/generate.ts', '**/*.test.ts'],
    rules: { 'no-console': 'off' },
  },
);

// Lint rules for Eventline: strict TypeScript, no `any`, type-only imports, no console in runtime code,
// imports that point down the layers.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

// Layers: a runtime module imports only from its own folder and the folders below it.
//
//   lib/                                 lib/
//   projections/                         lib/
//   notify/                              lib/, projections/preferences/document.ts and store.ts
//   processors/                          lib/, notify/index.ts, the read side of projections/
//   producers/                           lib/, notify/index.ts, the read side of projections/
//   producers/http/ (composition root)   what producers/ may, and web/
//   web/                                 lib/
//
// The read side of projections/ is all of it but the runners (projections/index.ts and
// projections/<name>/main.ts). cli/, test/, bench/, infra/, schemas/ and *.test.ts files sit on
// top and may import anything. Every import between folders is relative, so a specifier that
// climbs (`../`) into a folder names it.
const UP = '^(\\./)?(\\.\\./)+';
const TOOLS = ['cli', 'test', 'bench', 'infra', 'schemas'];
const into = (...folders) => folders.map((folder) => `${UP}${folder}/`);
const NOTIFY_INTERNALS = `${UP}notify/(?!index\\.ts$)`;
const PROJECTION_RUNNERS = `${UP}projections/(index\\.ts|[^/]+/main\\.ts)$`;

function layer(folder, allowed, forbidden) {
  const message = `${folder} may import only ${allowed} (layers in eslint.config.js).`;
  return {
    name: `eventline/layers/${folder}`,
    files: [`${folder}**/*.ts`],
    ignores: ['**/*.test.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: forbidden.map((regex) => ({ regex, message })) }] },
  };
}

const layers = [
  layer('lib/', 'lib/', into('notify', 'projections', 'processors', 'producers', 'web', ...TOOLS)),
  layer('projections/', 'lib/ and projections/', into('notify', 'processors', 'producers', 'web', ...TOOLS)),
  layer('notify/', 'lib/, projections/preferences/document.ts and store.ts, and notify/', [
    ...into('processors', 'producers', 'web', ...TOOLS),
    `${UP}projections/(?!preferences/(document|store)\\.ts$)`,
  ]),
  layer('processors/', 'lib/, notify/index.ts, the read side of projections/ and processors/', [
    ...into('producers', 'web', ...TOOLS),
    NOTIFY_INTERNALS,
    PROJECTION_RUNNERS,
  ]),
  layer('producers/', 'lib/, notify/index.ts, the read side of projections/ and producers/', [
    ...into('processors', 'web', ...TOOLS),
    NOTIFY_INTERNALS,
    PROJECTION_RUNNERS,
  ]),
  // After producers/: for a file both match, the later object's options replace the earlier's.
  layer('producers/http/', 'what producers/ may, and web/ (the HTTP composition root)', [
    ...into('processors', ...TOOLS),
    NOTIFY_INTERNALS,
    PROJECTION_RUNNERS,
  ]),
  layer('web/', 'lib/ and web/', into('notify', 'projections', 'processors', 'producers', ...TOOLS)),
];

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
  ...layers,
);

/**
 * DESIGN.md's import rules, enforced by `npm run lint`:
 *  - no cycles;
 *  - a module is reached only through its public face (index.ts) from outside;
 *  - a stage never imports a later stage (the order below is the data flow);
 *  - only src/main.ts, the composition root, may import every module.
 */
// Earlier first. A module may import modules that come before it, never after.
const ORDER = [
  'kernel',
  'config',
  'store',
  'audit',
  'policy',
  'events',
  'ingest',
  'detect',
  'incidents',
  'oncall',
  'notify',
  'respond',
  'connectors',
  'evidence',
  'comms',
  'review',
  'drills',
  'api',
  'cli',
];

const stageRules = ORDER.map((mod, i) => ({
  name: `stage-order-${mod}`,
  comment: `${mod} may not import a later stage (${ORDER.slice(i + 1).join(', ')})`,
  severity: 'error',
  from: { path: `^src/${mod}/` },
  to: { path: `^src/(${ORDER.slice(i + 1).join('|') || 'none'})/` },
}));

module.exports = {
  forbidden: [
    { name: 'no-circular', severity: 'error', from: {}, to: { circular: true } },
    {
      name: 'public-face-only',
      comment: 'import another module through its index.ts',
      severity: 'error',
      from: { path: '^src/([^/]+)/' },
      to: { path: '^src/([^/]+)/.+', pathNot: ['^src/$1/', '^src/[^/]+/index\\.ts$'] },
    },
    {
      name: 'main-through-public-faces',
      severity: 'error',
      from: { path: '^src/main\\.ts$' },
      to: { path: '^src/[^/]+/.+', pathNot: '^src/[^/]+/index\\.ts$' },
    },
    {
      name: 'nobody-imports-main',
      severity: 'error',
      from: { path: '^src/(?!main\\.ts$)' },
      to: { path: '^src/main\\.ts$' },
    },
    {
      name: 'unknown-module',
      comment: 'a new module must be placed in ORDER in .dependency-cruiser.cjs',
      severity: 'error',
      from: { path: '^src/' },
      to: { path: `^src/(?!(${ORDER.join('|')})/|main\\.ts$)[^/]+/` },
    },
    ...stageRules,
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '\\.test\\.ts$' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { extensions: ['.ts', '.js'] },
  },
};

/** Tests run TypeScript through SWC (fast, keeps decorator metadata); `npm run typecheck` does the type checking. */
const { existsSync } = require('node:fs');
const { join } = require('node:path');

const swc = {
  jsc: {
    parser: { syntax: 'typescript', decorators: true },
    transform: { legacyDecorator: true, decoratorMetadata: true },
    target: 'es2022',
  },
  module: { type: 'commonjs' },
};

const aliases = [
  'wmbus',
  'dlms',
  'config',
  'storage',
  'messaging',
  'cache',
  'keys',
  'auth',
  'metrics',
  'testing',
];

const shared = {
  testEnvironment: 'node',
  // bench/ may not exist yet in a fresh clone (git keeps no empty directories), and jest rejects missing roots.
  roots: ['apps', 'libs', 'bench']
    .filter((dir) => existsSync(join(__dirname, dir)))
    .map((dir) => `<rootDir>/${dir}`),
  transform: { '^.+\\.ts$': ['@swc/jest', swc] },
  moduleNameMapper: Object.fromEntries(aliases.map((a) => [`^@hes/${a}$`, `<rootDir>/libs/${a}/src`])),
};

/**
 * Two projects so that unit-only runs never wait for services: jest runs a project's globalSetup only when
 * at least one of its test files is selected, and only `integration` (`*.int.spec.ts`, against real local
 * services) makes sure scripts/local-stack.sh is up. `npx jest <path>` picks the right project by file name.
 */
module.exports = {
  testTimeout: 60000,
  projects: [
    {
      ...shared,
      displayName: 'unit',
      testMatch: ['**/*.spec.ts', '**/*.test.ts'],
      testPathIgnorePatterns: ['/node_modules/', '\\.int\\.spec\\.ts$'],
    },
    {
      ...shared,
      displayName: 'integration',
      testMatch: ['**/*.int.spec.ts'],
      globalSetup: '<rootDir>/libs/testing/src/global-setup.ts',
    },
  ],
};

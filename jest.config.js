/** Tests run TypeScript through SWC (fast, keeps decorator metadata); `npm run typecheck` does the type checking. */
const swc = {
  jsc: {
    parser: { syntax: 'typescript', decorators: true },
    transform: { legacyDecorator: true, decoratorMetadata: true },
    target: 'es2022',
  },
  module: { type: 'commonjs' },
};

const aliases = ['wmbus', 'dlms', 'config', 'storage', 'messaging', 'cache', 'keys', 'auth', 'metrics', 'testing'];

module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/apps', '<rootDir>/libs', '<rootDir>/bench'],
  testMatch: ['**/*.spec.ts', '**/*.test.ts'],
  transform: { '^.+\\.ts$': ['@swc/jest', swc] },
  moduleNameMapper: Object.fromEntries(aliases.map((a) => [`^@hes/${a}$`, `<rootDir>/libs/${a}/src`])),
  testTimeout: 60000,
};

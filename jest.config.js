const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

/**
 * Two projects: `unit` (`npx jest --selectProjects unit`) holds the test files that start no
 * server and use no shared one; `integration` holds every other file, with the global setup that
 * starts the shared PostgreSQL. A project's globalSetup runs only when a test of that project is
 * selected (node_modules/@jest/core/build/index.js, runGlobalHook: the modules of the selected
 * tests' project configs). A new test file is an integration test until it is listed here.
 */
const UNIT = [
  'backups-leftovers',
  'backups-stack',
  'bench-statements',
  'cli-config',
  'config',
  'connection',
  'db-check',
  'docker-readback',
  'docs-links',
  'env-file',
  'external',
  'inside-servers',
  'launcher',
  'migration-files',
  'migrations-lint',
  'policy',
  'minio-signing',
  'program-loader',
  'settings',
  'sql-script',
  'stack-outputs',
  'stacks',
  'storage-policies',
  'workflows',
].map((name) => path.join(__dirname, 'tests', `${name}.test.ts`));

// A renamed or removed file must not drop out of both projects unnoticed.
const missing = UNIT.filter((file) => !fs.existsSync(file));
if (missing.length > 0) throw new Error(`jest.config.js lists unit test files that do not exist: ${missing.join(', ')}`);

const escape = (text) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

const shared = {
  rootDir: __dirname,
  testEnvironment: 'node',
  roots: ['<rootDir>/tests'],
  // The tests' own tsconfig adds jest's types; the program's tsconfig.json must not need them.
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: '<rootDir>/tests/tsconfig.json' }] },
};

/** @type {import('jest').Config} */
module.exports = {
  // A global option: jest-circus reads it from the global config (jestAdapterInit.js), for both projects.
  testTimeout: 60_000,
  // Jest's default is one worker less than the cores (jest-config/build/index.js getMaxWorkers):
  // one on a 2-core CI machine. The test files mostly wait on the servers and commands they start,
  // so two workers there took the suite from 658 s to 400 s, bounds and all.
  maxWorkers: Math.max(2, os.availableParallelism() - 1),
  projects: [
    { ...shared, displayName: 'unit', testRegex: [`^(${UNIT.map(escape).join('|')})$`] },
    {
      ...shared,
      displayName: 'integration',
      testMatch: ['**/*.test.ts'],
      testPathIgnorePatterns: ['/node_modules/', ...UNIT.map((file) => `^${escape(file)}$`)],
      globalSetup: '<rootDir>/tests/global-setup.ts',
      globalTeardown: '<rootDir>/tests/global-teardown.ts',
    },
  ],
};

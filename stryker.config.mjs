// Mutation testing of the modules that carry the README's guarantees: `npm run mutate` (a script,
// not part of `npm test`: ~N min on 2 cores). Scores and every surviving mutant: TESTING.md.
/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  testRunner: 'vitest',
  vitest: { configFile: 'test/mutation.vitest.config.ts', related: false },
  checkers: ['typescript'],
  tsconfigFile: 'tsconfig.json',
  typescriptChecker: { prioritizePerformanceOverAccuracy: true },
  coverageAnalysis: 'perTest',
  mutate: [
    // The store: checkpoint commit protocol, best, pointers, retention; the lease.
    'shared/store/run-store.ts:275-412',
    'shared/store/run-store.ts:447-498',
    // The engine: checkpoint files, resume and checkpoint().
    'shared/engine/checkpoint.ts',
    'shared/engine/train.ts:124-165',
    'shared/engine/train.ts:458-470',
    // The sampling step.
    'shared/engine/step.ts',
    // Auth.
    'functions/middleware/auth.ts',
  ],
  ignoreStatic: true,
  concurrency: 2,
  timeoutMS: 60_000,
  reporters: ['clear-text', 'progress', 'html', 'json'],
  htmlReporter: { fileName: 'reports/mutation/index.html' },
  jsonReporter: { fileName: 'reports/mutation/mutation.json' },
  thresholds: { high: 90, low: 85, break: null },
  tempDirName: '.stryker-tmp',
};

// Mutation testing of the modules that carry the README's guarantees: `npm run mutate` (a script,
// not part of `npm test`: ~26 min on 2 cores). Scores and every surviving mutant: TESTING.md.
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
    'shared/store/run-store.ts:257-395',
    'shared/store/run-store.ts:429-481',
    // The engine: checkpoint files, resume and checkpoint().
    'shared/engine/checkpoint.ts',
    'shared/engine/train.ts:123-164',
    'shared/engine/train.ts:380-392',
    // The sampling step.
    'shared/engine/step.ts',
    // The slice's commit queue.
    'functions/training/commit-queue.ts',
    // Auth.
    'functions/middleware/auth.ts',
  ],
  ignoreStatic: true,
  // Re-runs only the mutants whose code or tests changed since the last run (reports/).
  incremental: true,
  incrementalFile: 'reports/stryker-incremental.json',
  concurrency: 2,
  timeoutMS: 60_000,
  reporters: ['clear-text', 'progress', 'html', 'json'],
  htmlReporter: { fileName: 'reports/mutation/index.html' },
  jsonReporter: { fileName: 'reports/mutation/mutation.json' },
  thresholds: { high: 90, low: 85, break: null },
  tempDirName: '.stryker-tmp',
};

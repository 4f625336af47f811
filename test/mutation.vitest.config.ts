import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

// The tests StrykerJS runs against each mutant (`npm run mutate`, stryker.config.mjs): the ones
// that carry the guarantees of the mutated modules, on this machine's Node, without the
// projects of test/vitest.config.ts (Stryker's runner drives one vitest project).
export default defineConfig({
  test: {
    root: fileURLToPath(new URL('..', import.meta.url)),
    include: [
      // The store's commit protocol and lease (shared/store/run-store.ts).
      'test/store/run-store.test.ts',
      'test/store/commit-protocol.test.ts',
      'test/store/file-store.test.ts',
      // The engine's checkpoint and resume (checkpoint.ts, Trainer.resume/checkpoint).
      'test/engine/checkpoint.test.ts',
      'test/engine/train.test.ts',
      'test/engine/sample.test.ts',
      // The sampling step (step.ts).
      'test/sampling/step-rows.test.ts',
      'test/sampling/batch-sampler.test.ts',
      // The slice's commit queue (functions/training/commit-queue.ts).
      'test/functions/commit-queue.test.ts',
      // Auth (functions/middleware/auth.ts).
      'test/functions/auth.test.ts',
      'test/reliability/security.test.ts',
    ],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
  },
});

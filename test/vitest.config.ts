import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    root: fileURLToPath(new URL('..', import.meta.url)),
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // Two cores: engine tests are CPU-bound, so run two files at a time.
    maxWorkers: 2,
    pool: 'forks',
    projects: [
      { extends: true, test: { name: 'all', include: ['test/**/*.test.{ts,tsx}'] } },
      // The engine and sampling once more without the native binding: what a machine without
      // OpenBLAS runs (wasm kernels only).
      {
        extends: true,
        test: {
          name: 'wasm-only',
          include: ['test/engine/**/*.test.ts', 'test/sampling/**/*.test.ts'],
          exclude: ['test/engine/blas.test.ts', 'test/engine/blas-build.test.ts', 'test/engine/fused.test.ts'],
          env: { CHARRNN_BLAS: 'off' },
        },
      },
    ],
  },
});

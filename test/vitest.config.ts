import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';
import { node22Pool } from './support/node22-pool.ts';

// Which Node runs what (README, "Which Node runs what"). Vitest itself runs on the Node that started
// it (this machine's 20); the projects with `pool: node22Pool` run their files on the Node the
// images run (pinned in test/node22.mjs, fetched on first use).

/** The bundle, run as the images run it: on Node 22 only. */
const BUNDLE_ONLY_ON_22 = ['test/infra/bundle.test.ts', 'test/infra/gpu-smoke.test.ts', 'test/infra/local-stack.test.ts'];

/**
 * Also on Node 22 (they run on 20 in `all` too): what depends on the Node version and is not
 * already in `wasm-only` (worker threads, WebAssembly, SSE over real sockets).
 */
const ALSO_ON_22 = [
  'test/node22.test.ts', // this project really runs on the pinned Node
  // The OpenBLAS binding (N-API): built with Node 22's own headers, loaded and used there.
  'test/engine/blas.test.ts',
  'test/engine/blas-build.test.ts',
  // Loading tfjs's native packages (their require errors) and choosing the backend, in the server.
  'test/functions/backend.test.ts',
  // The container entry through `--import tsx`, its training worker, SIGTERM.
  'test/functions/shutdown.test.ts',
  // SSE parsing on web streams.
  'test/functions/client.test.ts',
  // The CLI from source (the cached esbuild bundle, tsx in its threads) and bundled: fetch, a
  // `--import` preload, the training worker.
  'test/cli/cold.test.ts',
  // The AWS SDK against s3rver (OpenSSL's legacy provider, aws-chunked bodies, socket timeouts).
  'test/store/s3-store.test.ts',
  // Ink on a real terminal and in the testing library.
  'test/tui/tmux.e2e.test.ts',
  'test/tui/runs.test.tsx',
];

export default defineConfig({
  test: {
    root: fileURLToPath(new URL('..', import.meta.url)),
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // Two cores: engine tests are CPU-bound, so run two files at a time (all projects together).
    maxWorkers: 2,
    pool: 'forks',
    projects: [
      // This machine's Node: every file but the bundle's.
      {
        extends: true,
        test: { name: 'all', include: ['test/**/*.test.{ts,tsx}'], exclude: [...BUNDLE_ONLY_ON_22, 'test/node22.test.ts'] },
      },
      // The engine and sampling once more without the native binding: what a machine without
      // OpenBLAS runs (wasm kernels only). On Node 22: its WebAssembly, the training replica and
      // sampling threads, and SSE streams over real sockets.
      {
        extends: true,
        test: {
          name: 'wasm-only',
          pool: node22Pool,
          include: ['test/engine/**/*.test.ts', 'test/sampling/**/*.test.ts'],
          exclude: ['test/engine/blas.test.ts', 'test/engine/blas-build.test.ts', 'test/engine/fused.test.ts'],
          env: { CHARRNN_BLAS: 'off' },
        },
      },
      { extends: true, test: { name: 'node22', pool: node22Pool, include: [...BUNDLE_ONLY_ON_22, ...ALSO_ON_22] } },
    ],
  },
});

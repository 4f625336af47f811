// Where the training worker's entry lives, from TypeScript source or from the esbuild bundle.
//
// Bundled layout this expects (infra/build.mjs):
//   dist/functions/main.mjs     the server (this module is bundled into it)
//   dist/functions/worker.mjs   functions/training/worker.ts bundled on its own, next to main.mjs
// A bundle elsewhere in dist/ (e.g. dist/cli.mjs) finds dist/functions/worker.mjs as well.
// From source (tsx, vitest) the worker starts from worker-dev.mjs, a plain-JS shim that registers
// tsx inside the worker thread and imports worker.ts (Node 20 ignores `--import tsx` in a
// worker's execArgv, and the worker would otherwise resolve tsx from the process's cwd).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** URL of the script to pass to `new Worker()`. */
export function workerUrl(): URL {
  const here = import.meta.url;
  if (here.endsWith('.ts')) return new URL('./worker-dev.mjs', here);
  const candidates = [new URL('./worker.mjs', here), new URL('./functions/worker.mjs', here)];
  return candidates.find((u) => existsSync(fileURLToPath(u))) ?? candidates[0];
}

// Preload (node --import) for test/cli/cold.test.ts: counts worker threads started through
// worker_threads.Worker and, at exit, reports on stderr whether tfjs was loaded (tfjs-core creates
// its engine on globalThis._tfengine when it is evaluated, bundled or not).
import { syncBuiltinESMExports } from 'node:module';
import workerThreads from 'node:worker_threads';

let workers = 0;
const Original = workerThreads.Worker;
workerThreads.Worker = class CountedWorker extends Original {
  constructor(...args) {
    super(...args);
    workers++;
  }
};
syncBuiltinESMExports(); // `import { Worker } from 'node:worker_threads'` now sees the counting class

process.on('exit', () => {
  process.stderr.write(`\nLOAD-PROBE ${JSON.stringify({ tfjs: globalThis._tfengine !== undefined, workers })}\n`);
});

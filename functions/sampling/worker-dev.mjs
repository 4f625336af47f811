// Sampling thread entry when running from TypeScript source: register tsx in this thread, then
// load the real worker. The bundle uses dist/functions/sample-worker.mjs instead (see pool.ts).
import { register } from 'tsx/esm/api';

register();
await import('./worker.ts');

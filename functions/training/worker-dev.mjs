// Training worker entry when running from TypeScript source: register tsx in this thread, then
// load the real worker. The bundle uses dist/functions/worker.mjs instead (see worker-url.ts).
import { register } from 'tsx/esm/api';

register();
await import('./worker.ts');

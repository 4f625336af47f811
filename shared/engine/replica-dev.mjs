// Replica worker entry when running from TypeScript source (tsx, vitest): register tsx in this
// thread, then load the real worker. Bundles use train-replica.mjs instead (see replica.ts).
import { register } from 'tsx/esm/api';

register();
await import('./replica-worker.ts');

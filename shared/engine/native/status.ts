// `node dist/functions/blas-status.mjs` (a bundle entry, infra/build.mjs), or from the source tree
// `node --import tsx shared/engine/native/status.ts`: one JSON line, blasStatus() where it runs, so a
// deployed bundle or image can be asked whether it found and loaded the binding, and why not.
import { blasStatus } from './blas.ts';

console.log(JSON.stringify(blasStatus()));

// A training worker thread: runs one slice's loop (loop.ts) with its parentPort as the channel to
// the server thread. Used on wasm/cpu; on a native TensorFlow backend the loop runs in-process.
import { parentPort, workerData } from 'node:worker_threads';
import { runSlice } from './loop.ts';
import type { WorkerInput } from './protocol.ts';

const port = parentPort!;
// The 'stop' listener must not keep the thread alive once the slice has posted its last word.
void runSlice(workerData as WorkerInput, port).finally(() => port.unref());

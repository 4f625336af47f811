// The engine's settings, given by its caller: the engine reads no environment variable itself
// (functions/settings.ts reads them, once; the table is functions/README.md's). Imports no tfjs.
// The names stay here because the engine's messages cite them (backend-choice.ts, threads.ts).
// The OpenBLAS binding's switches are the exception: native/env.mjs says why.

export const ENGINE_ENV = {
  /** tensorflow | wasm | cpu, or a package name; unset = the best that loads. */
  backend: 'CHARRNN_BACKEND',
  /** 1 = refuse to run unless @tensorflow/tfjs-node-gpu loaded and TensorFlow uses a GPU. */
  requireGpu: 'CHARRNN_REQUIRE_GPU',
  /** 1 | 2 data-parallel training replicas; unset = automatic. */
  trainThreads: 'CHARRNN_TRAIN_THREADS',
  /** Sampling threads of a server (read with the server's limits, functions/settings.ts). */
  sampleThreads: 'CHARRNN_SAMPLE_THREADS',
  /**
   * 1 = one thread of the process uses tfjs whatever the backend: the layout the native backends
   * always get (threads.ts), so it can be exercised on wasm (tests, `gpu-smoke.sh --backend wasm`).
   */
  oneTfjsThread: 'CHARRNN_ONE_TFJS_THREAD',
} as const;

/** What the caller tells the engine (each field is the variable of the same name in ENGINE_ENV). */
export interface EngineSettings {
  /** The backend to load; '' or unset = the best that loads. */
  backend?: string;
  /** Refuse to run unless @tensorflow/tfjs-node-gpu loaded and TensorFlow uses a GPU. */
  requireGpu?: boolean;
  /** Training replicas, 1 or 2; unset = automatic. */
  trainThreads?: number;
  /** The native backends' one-thread layout on any backend. */
  oneTfjsThread?: boolean;
}

// The engine's settings from the environment, each variable named here once. Imports no tfjs: the
// server reads these before it decides whether to load tfjs at all. (functions/limits.ts names the
// server's own CHARRNN_* variables the same way.)

export const ENGINE_ENV = {
  /** tensorflow | wasm | cpu, or a package name; unset = the best that loads. */
  backend: 'CHARRNN_BACKEND',
  /** 1 = refuse to run unless @tensorflow/tfjs-node-gpu loaded and TensorFlow uses a GPU. */
  requireGpu: 'CHARRNN_REQUIRE_GPU',
  /** 1 | 2 data-parallel training replicas; unset = automatic. */
  trainThreads: 'CHARRNN_TRAIN_THREADS',
  /** Sampling threads of a server (read with the server's limits, functions/limits.ts). */
  sampleThreads: 'CHARRNN_SAMPLE_THREADS',
  /**
   * 1 = one thread of the process uses tfjs whatever the backend: the layout the native backends
   * always get (threads.ts), so it can be exercised on wasm (tests, `gpu-smoke.sh --backend wasm`).
   */
  oneTfjsThread: 'CHARRNN_ONE_TFJS_THREAD',
} as const;

type Env = Record<string, string | undefined>;

const raw = (env: Env, name: string): string | undefined => {
  const v = env[name]?.trim();
  return v ? v : undefined;
};

/** CHARRNN_BACKEND, '' when unset. */
export function backendSetting(env: Env = process.env): string {
  return raw(env, ENGINE_ENV.backend) ?? '';
}

/** A yes/no variable; anything but a clear yes/no is a startup error naming the variable. */
function flag(env: Env, name: string): boolean {
  const v = raw(env, name)?.toLowerCase();
  if (v === undefined || ['0', 'false', 'no', 'off'].includes(v)) return false;
  if (['1', 'true', 'yes', 'on'].includes(v)) return true;
  throw new Error(`${name} must be 1 or 0, got "${env[name]}"`);
}

/** CHARRNN_REQUIRE_GPU as a boolean. */
export const requireGpuSetting = (env: Env = process.env): boolean => flag(env, ENGINE_ENV.requireGpu);

/** CHARRNN_ONE_TFJS_THREAD as a boolean. */
export const oneTfjsThreadSetting = (env: Env = process.env): boolean => flag(env, ENGINE_ENV.oneTfjsThread);

/** CHARRNN_TRAIN_THREADS (1 or 2), undefined when unset. */
export function trainThreadsSetting(env: Env = process.env): number | undefined {
  const v = raw(env, ENGINE_ENV.trainThreads);
  if (v === undefined) return undefined;
  const n = Number(v);
  if (n !== 1 && n !== 2) throw new Error(`training threads must be 1 or 2 (got ${ENGINE_ENV.trainThreads}=${v})`);
  return n;
}

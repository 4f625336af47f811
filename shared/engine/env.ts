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

/** CHARRNN_REQUIRE_GPU as a boolean; anything but a clear yes/no is a startup error naming the variable. */
export function requireGpuSetting(env: Env = process.env): boolean {
  const v = raw(env, ENGINE_ENV.requireGpu)?.toLowerCase();
  if (v === undefined || ['0', 'false', 'no', 'off'].includes(v)) return false;
  if (['1', 'true', 'yes', 'on'].includes(v)) return true;
  throw new Error(`${ENGINE_ENV.requireGpu} must be 1 or 0, got "${env[ENGINE_ENV.requireGpu]}"`);
}

/** CHARRNN_TRAIN_THREADS (1 or 2), undefined when unset. */
export function trainThreadsSetting(env: Env = process.env): number | undefined {
  const v = raw(env, ENGINE_ENV.trainThreads);
  if (v === undefined) return undefined;
  const n = Number(v);
  if (n !== 1 && n !== 2) throw new Error(`training threads must be 1 or 2 (got ${ENGINE_ENV.trainThreads}=${v})`);
  return n;
}

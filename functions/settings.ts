// Every environment variable charrnn reads at run time, read here and nowhere else (the table:
// functions/README.md, "Configuration"): the per-instance limits, the engine's settings, the store's
// and the token. The entry points (main.ts, cli.ts, the TUI's embedded server) read them once and pass
// them down: handlers receive a Limits object, the engine EngineSettings (initBackend, Trainer, the
// worker threads through their workerData), the store StoreSettings; none reads env itself.
// Exceptions, each with its reason where it reads: the OpenBLAS binding's switches
// (shared/engine/native/env.mjs), PORT and HOST (the entry points' own arguments), the AWS SDK's chain.
// Imports no tfjs: the server reads these before it decides whether to load tfjs at all.
import { ENGINE_ENV, type EngineSettings } from '../shared/engine/settings.ts';
import { StoreConfigError, type StoreSettings } from '../shared/store/types.ts';

type Env = Record<string, string | undefined>;

/** Everything the server side needs from the environment. */
export interface Settings {
  limits: Limits;
  engine: EngineSettings;
  store: StoreSettings;
  /** CHARRNN_API_TOKEN: the bearer token every route but /healthz requires; unset = open. */
  token?: string;
}

/** All of it; a malformed value is a startup error that names the variable. */
export function readSettings(env: Env = process.env): Settings {
  const token = env.CHARRNN_API_TOKEN;
  return { limits: readLimits(env), engine: readEngineSettings(env), store: readStoreSettings(env), ...(token !== undefined ? { token } : {}) };
}

export interface Limits {
  /** Largest model a run may be created with. */
  maxLayers: number;
  maxHidden: number;
  maxParams: number;
  /** Largest `steps` one train request may ask for. */
  maxStepsPerSlice: number;
  /** Wall-time cap of one slice (Cloud Run requests end at 60 min). */
  maxSliceSeconds: number;
  /** Budget of a train request that names none. */
  defaultSliceSeconds: number;
  /** Checkpoint at least this often while training. */
  defaultCheckpointSeconds: number;
  maxSampleLength: number;
  /** Sample requests in flight at once on this instance (more → 429). */
  maxSampleStreams: number;
  /** Any request body. */
  maxBodyBytes: number;
  /** POST /corpora body. */
  maxCorpusBytes: number;
  /** Loaded samplers kept in memory. */
  samplerCacheSize: number;
  /** Threads that run sampling steps off the event loop; 0 = on it. Unset: the backend's thread
   * plan decides (shared/engine/threads.ts: min(2, cores) on wasm/cpu, 0 on native TensorFlow). */
  sampleThreads?: number;
  /** How long a shutdown waits for slices to checkpoint. */
  shutdownGraceSeconds: number;
  /** Lifetime of a training lease; renewed every third of it while the slice runs. A crashed
   * instance's run becomes trainable elsewhere after at most this long. */
  leaseSeconds: number;
}

export const DEFAULT_LIMITS: Limits = {
  maxLayers: 4,
  maxHidden: 1024,
  maxParams: 20_000_000,
  maxStepsPerSlice: 1_000_000,
  maxSliceSeconds: 3000,
  defaultSliceSeconds: 60,
  defaultCheckpointSeconds: 30,
  maxSampleLength: 20_000,
  maxSampleStreams: 64,
  maxBodyBytes: 50 * 1024 * 1024,
  maxCorpusBytes: 50 * 1024 * 1024,
  samplerCacheSize: 4,
  shutdownGraceSeconds: 10,
  leaseSeconds: 60,
};

const ENV_NAMES: Record<keyof Limits, string> = {
  maxLayers: 'CHARRNN_MAX_LAYERS',
  maxHidden: 'CHARRNN_MAX_HIDDEN',
  maxParams: 'CHARRNN_MAX_PARAMS',
  maxStepsPerSlice: 'CHARRNN_MAX_STEPS_PER_SLICE',
  maxSliceSeconds: 'CHARRNN_MAX_SLICE_SECONDS',
  defaultSliceSeconds: 'CHARRNN_DEFAULT_SLICE_SECONDS',
  defaultCheckpointSeconds: 'CHARRNN_CHECKPOINT_SECONDS',
  maxSampleLength: 'CHARRNN_MAX_SAMPLE_LENGTH',
  maxSampleStreams: 'CHARRNN_MAX_SAMPLE_STREAMS',
  maxBodyBytes: 'CHARRNN_MAX_BODY_BYTES',
  maxCorpusBytes: 'CHARRNN_MAX_CORPUS_BYTES',
  samplerCacheSize: 'CHARRNN_SAMPLER_CACHE',
  sampleThreads: ENGINE_ENV.sampleThreads,
  shutdownGraceSeconds: 'CHARRNN_SHUTDOWN_GRACE_SECONDS',
  leaseSeconds: 'CHARRNN_LEASE_SECONDS',
};

/** Limits from env (unset → default); a malformed value is a startup error that names the variable. */
export function readLimits(env: Env = process.env, overrides: Partial<Limits> = {}): Limits {
  const out: Limits = { ...DEFAULT_LIMITS };
  for (const key of Object.keys(ENV_NAMES) as (keyof Limits)[]) {
    const raw = env[ENV_NAMES[key]];
    if (raw === undefined || raw === '') continue;
    const n = Number(raw);
    if (key === 'sampleThreads') {
      if (!Number.isInteger(n) || n < 0) throw new Error(`${ENV_NAMES[key]} must be a whole number (0 = sample on the main thread), got "${raw}"`);
    } else if (!Number.isFinite(n) || n <= 0) throw new Error(`${ENV_NAMES[key]} must be a positive number, got "${raw}"`);
    out[key] = n;
  }
  // An unset corpus limit follows the body limit.
  if (!env.CHARRNN_MAX_CORPUS_BYTES && env.CHARRNN_MAX_BODY_BYTES) out.maxCorpusBytes = out.maxBodyBytes;
  return { ...out, ...overrides };
}

const raw = (env: Env, name: string): string | undefined => {
  const v = env[name]?.trim();
  return v ? v : undefined;
};

/** A yes/no variable; anything but a clear yes/no is a startup error naming the variable. */
function flag(env: Env, name: string): boolean {
  const v = raw(env, name)?.toLowerCase();
  if (v === undefined || ['0', 'false', 'no', 'off'].includes(v)) return false;
  if (['1', 'true', 'yes', 'on'].includes(v)) return true;
  throw new Error(`${name} must be 1 or 0, got "${env[name]}"`);
}

/** CHARRNN_BACKEND ('' when unset), CHARRNN_REQUIRE_GPU, CHARRNN_TRAIN_THREADS (1 or 2), CHARRNN_ONE_TFJS_THREAD. */
export function readEngineSettings(env: Env = process.env): EngineSettings {
  const threads = raw(env, ENGINE_ENV.trainThreads);
  const trainThreads = threads === undefined ? undefined : Number(threads);
  if (trainThreads !== undefined && trainThreads !== 1 && trainThreads !== 2) throw new Error(`training threads must be 1 or 2 (got ${ENGINE_ENV.trainThreads}=${threads})`);
  return {
    backend: raw(env, ENGINE_ENV.backend) ?? '',
    requireGpu: flag(env, ENGINE_ENV.requireGpu),
    ...(trainThreads !== undefined ? { trainThreads } : {}),
    oneTfjsThread: flag(env, ENGINE_ENV.oneTfjsThread),
  };
}

/**
 * CHARRNN_STORE, CHARRNN_KEEP_CHECKPOINTS (a positive integer), and for S3 the endpoint
 * (AWS_ENDPOINT_URL_S3, else AWS_ENDPOINT_URL: the SDK reads it too; it is read here only to turn on
 * path-style addressing) and CHARRNN_S3_FORCE_PATH_STYLE.
 */
export function readStoreSettings(env: Env = process.env): StoreSettings {
  const keep = env.CHARRNN_KEEP_CHECKPOINTS;
  let keepCheckpoints: number | undefined;
  if (keep !== undefined && keep !== '') {
    keepCheckpoints = Number(keep);
    if (!Number.isInteger(keepCheckpoints) || keepCheckpoints < 1) throw new StoreConfigError(`CHARRNN_KEEP_CHECKPOINTS must be a positive integer, got ${JSON.stringify(keep)}`);
  }
  const endpoint = env.AWS_ENDPOINT_URL_S3 || env.AWS_ENDPOINT_URL || undefined;
  return {
    ...(env.CHARRNN_STORE !== undefined ? { url: env.CHARRNN_STORE } : {}),
    ...(keepCheckpoints !== undefined ? { keepCheckpoints } : {}),
    s3: { ...(endpoint ? { endpoint } : {}), forcePathStyle: env.CHARRNN_S3_FORCE_PATH_STYLE === '1' },
  };
}

/** What the CLI and the TUI need to reach an API: CHARRNN_API_URL and CHARRNN_API_TOKEN ('' = unset). */
export function readClientSettings(env: Env = process.env): { apiUrl?: string; token?: string } {
  const apiUrl = env.CHARRNN_API_URL || undefined;
  const token = env.CHARRNN_API_TOKEN || undefined;
  return { ...(apiUrl ? { apiUrl } : {}), ...(token ? { token } : {}) };
}

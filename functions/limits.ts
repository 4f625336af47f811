// Per-instance limits, all from the environment (CHARRNN_*), with defaults. One place so the
// operator can see every knob; handlers receive a Limits object and never read env themselves.
import { ENGINE_ENV } from '../shared/engine/env.ts';

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
export function readLimits(env: Record<string, string | undefined> = process.env, overrides: Partial<Limits> = {}): Limits {
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

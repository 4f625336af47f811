// Loaded BatchSamplers, kept in an LRU keyed by run and checkpoint step, so repeated samples skip
// the store read and the weight upload, and concurrent streams of one checkpoint are stepped
// together (one batched cell step for all of them). An evicted sampler is disposed once its last
// user is done. Where the samplers live follows the backend's thread plan, decided at the first
// sample: in a SamplingPool's threads (wasm/cpu, CHARRNN_SAMPLE_THREADS > 0), or on this thread
// (0, or native TensorFlow). Nothing loads tfjs or starts a thread before that first sample.
import { LRUCache } from 'lru-cache';
import type { CheckpointFiles } from '../../shared/engine/types.ts';
import type { RunStore } from '../../shared/store/index.ts';
import type { CheckpointRef } from '../../shared/store/types.ts';
import type { ServerBackend } from '../backend.ts';
import { checkpointMissing } from '../runs/record.ts';
import { SamplingPool, type LoadedSampler } from './pool.ts';

interface Entry {
  sampler: Promise<LoadedSampler>;
  users: number;
  evicted: boolean;
}

export interface SamplerLease {
  sampler: LoadedSampler;
  step: number;
  release(): void;
}

export class SamplerCache {
  private readonly lru: LRUCache<string, Entry>;
  private pool: SamplingPool | null = null;
  /** How a checkpoint becomes a sampler here, once the thread plan is known. */
  private loader: Promise<(key: string, files: CheckpointFiles) => LoadedSampler | Promise<LoadedSampler>> | null = null;

  constructor(
    private readonly store: RunStore,
    max: number,
    private readonly backend: ServerBackend,
    private readonly log?: (msg: string) => void,
  ) {
    this.lru = new LRUCache<string, Entry>({
      max,
      dispose: (entry) => {
        entry.evicted = true;
        if (entry.users === 0) disposeEntry(entry);
      },
    });
  }

  private samplerLoader() {
    this.loader ??= (async () => {
      const early = this.backend.earlyPlan();
      // The threads need not wait for this thread's tfjs, but /healthz reports ready only once it is up.
      if (early) this.backend.ready().catch(() => {});
      const plan = early ?? (await this.backend.ready()).plan;
      if (plan.sampleThreads > 0) {
        const pool = (this.pool = new SamplingPool(plan.sampleThreads, this.log, this.backend.engine));
        return (key: string, files: CheckpointFiles) => pool.load(key, files);
      }
      await this.backend.ready(); // samplers on this thread: its tfjs
      const { BatchSampler } = await import('../../shared/engine/batch-sampler.ts');
      return (_key: string, files: CheckpointFiles) => BatchSampler.load(files);
    })().catch((e: unknown) => {
      this.loader = null; // the backend may load on a later try
      throw e;
    });
    return this.loader;
  }

  /** Decide where samplers live and start the sampling threads now (before this thread's tfjs is up when the plan allows), so the first sample finds them warm (eager servers). */
  async warm(): Promise<void> {
    await this.samplerLoader();
    this.pool?.warm();
  }

  /** The sampler for a run's checkpoint; 409 when the run has none yet, 404 for an unknown step. */
  async acquire(runId: string, ref: CheckpointRef): Promise<SamplerLease> {
    let step: number;
    let files: Record<string, Uint8Array> | null = null;
    if (typeof ref === 'number') {
      step = ref;
    } else {
      const pointer = await this.store.readPointer(runId, ref);
      if (!pointer) throw checkpointMissing(runId, ref);
      step = pointer.step;
    }
    const key = `${runId}@${step}`;
    let entry = this.lru.get(key);
    if (!entry) {
      const load = async () => {
        if (!files) {
          const loaded = await this.store.loadCheckpoint(runId, typeof ref === 'number' ? ref : step);
          if (!loaded) {
            throw checkpointMissing(runId, ref);
          }
          files = loaded.files;
        }
        return (await this.samplerLoader())(key, files as CheckpointFiles);
      };
      entry = { sampler: load(), users: 0, evicted: false };
      entry.sampler.catch(() => this.lru.delete(key)); // failed loads are not cached
      this.lru.set(key, entry);
    }
    const e = entry;
    e.users++;
    let sampler: LoadedSampler;
    try {
      sampler = await e.sampler;
    } catch (err) {
      e.users--;
      throw err;
    }
    let released = false;
    return {
      sampler,
      step,
      release: () => {
        if (released) return;
        released = true;
        e.users--;
        if (e.evicted && e.users === 0) disposeEntry(e);
      },
    };
  }

  /** Drop a run's samplers (after it is deleted). */
  forgetRun(runId: string): void {
    for (const key of [...this.lru.keys()]) if (key.startsWith(`${runId}@`)) this.lru.delete(key);
  }

  /** Drop every sampler and stop the sampling threads (they start again on demand). */
  clear(): void {
    this.lru.clear();
    this.pool?.close();
  }
}

function disposeEntry(entry: Entry) {
  entry.sampler.then(
    (s) => s.dispose(),
    () => {},
  );
}

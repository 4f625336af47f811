// What the route handlers share: the store, the limits, the training slices and loaded samplers.
import type { RunStore } from '../shared/store/index.ts';
import type { ServerBackend } from './backend.ts';
import type { Limits } from './settings.ts';
import type { SamplerCache } from './sampling/sampler-cache.ts';
import type { TrainingManager } from './training/manager.ts';

export interface Services {
  store: RunStore;
  limits: Limits;
  version: string;
  /** The tfjs backend and thread plan: ready() initialises it (once). */
  backend: ServerBackend;
  trainings: TrainingManager;
  samplers: SamplerCache;
  /** Sample requests in flight (bounded by limits.maxSampleStreams). */
  sampling: { active: number };
  /** Train responses still being written; shutdown lets them send their final event. */
  trainResponses: Set<Promise<unknown>>;
  /** Aborted when the server shuts down: open streams (metrics tails, samples) end cleanly. */
  closing: AbortController;
  now: () => number;
  log: (msg: string) => void;
}

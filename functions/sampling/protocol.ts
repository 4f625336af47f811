// Messages between the server thread (SamplingPool) and a sampling thread (worker.ts).
import type { EngineSettings } from '../../shared/engine/settings.ts';
import type { SampleOptions } from '../../shared/engine/types.ts';

/** The thread's workerData: the server's engine settings (its tfjs loads with them). */
export interface SamplingWorkerData {
  engine: EngineSettings;
}

/** A failure crossing the thread boundary (EngineInputError keeps its field). */
export interface WireError {
  name: string;
  message: string;
  field?: string;
}

export type ToWorker =
  /** Load a checkpoint's sampler under `key` (the bytes are this thread's own copy). */
  | { type: 'load'; key: string; files: { 'model.json': Uint8Array; 'weights.bin': Uint8Array } }
  | { type: 'dispose'; key: string }
  | { type: 'open'; key: string; id: number; opts: Omit<SampleOptions, 'signal'> }
  | { type: 'cancel'; id: number };

export interface StreamUpdate {
  id: number;
  text: string;
  /** Set once the stream has ended. */
  end?: 'done' | 'cancelled' | 'failed';
  error?: WireError;
}

/** After a turn of batched steps: every stream of `key` with new text or that ended. */
export interface FromWorker {
  type: 'turn';
  key: string;
  stats?: { steps: number; rowSteps: number };
  updates: StreamUpdate[];
}

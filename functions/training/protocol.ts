// Messages between the server thread (store, HTTP) and a training worker (tfjs only).
import type { BackendInUse } from '../../shared/api/schemas.ts';
import type { EngineSettings } from '../../shared/engine/settings.ts';
import type { CheckpointFiles, MetricPoint, ModelConfig, TrainConfig, TrainingSampleConfig } from '../../shared/engine/types.ts';

export interface WorkerInput {
  runId: string;
  text: string;
  model: ModelConfig;
  train: TrainConfig;
  /** Latest checkpoint to resume from; absent for a fresh run. */
  checkpoint?: CheckpointFiles;
  limits: { steps?: number; epochs?: number; seconds?: number };
  checkpointSeconds: number;
  /** The run's best validation loss (best.json's); a validation below it is committed at once. */
  bestValLoss: number | null;
  /** Minimum milliseconds between progress messages (evals always report). */
  progressMs: number;
  /** Measure validation loss before the first step and report it as a progress point (retrain's "before"). */
  evalFirst?: boolean;
  /** Samples from the current weights, carried by progress points (every: 0 = none). */
  sample: TrainingSampleConfig;
  /** The server's engine settings (backend, training threads); none = the engine's defaults. */
  engine?: EngineSettings;
}

export interface ProgressPoint extends MetricPoint {
  etaSeconds: number | null;
}

export type WorkerMessage =
  | { type: 'ready'; using: BackendInUse; step: number; epoch: number; vocabSize: number; params: number }
  | { type: 'progress'; point: ProgressPoint }
  | { type: 'checkpoint'; step: number; epoch: number; valLoss: number | null; files: CheckpointFiles }
  | { type: 'diverged'; step: number; reason: string }
  | {
      type: 'end';
      step: number;
      epoch: number;
      reason: 'steps' | 'epochs' | 'seconds' | 'aborted' | 'diverged';
      trainLoss: number | null;
      valLoss: number | null;
      valBpc: number | null;
      charsPerSec: number | null;
      steps: number;
      seconds: number;
    }
  | { type: 'error'; name: string; message: string; field?: string };

/** 'lease_lost': another holder owns the run now, so the worker must not write a checkpoint. */
export type StopReason = 'shutdown' | 'aborted' | 'lease_lost';
export type ServerMessage = { type: 'stop'; reason: StopReason };

// The engine's public contract. Everything outside shared/engine (functions/, the CLI,
// tests, benchmarks) depends on these shapes only; the engine knows nothing about HTTP or
// storage: it takes text and checkpoint bytes in, and gives events, text and bytes out.
import type { MetricPoint } from '../run-types.ts';

export type { ConfigInput, MetricPoint, ModelConfig, TrainConfig, TrainingSampleConfig } from '../run-types.ts';

/** One checkpoint as files: the tfjs `model.json` + `weights.bin` layout (loadable by
 * `tf.loadLayersModel` in a browser), plus the optimizer's slots and the run state. */
export type CheckpointFiles = {
  'model.json': Uint8Array;
  'weights.bin': Uint8Array;
  'optimizer.bin': Uint8Array;
  'state.json': Uint8Array;
};
export const CHECKPOINT_FILE_NAMES = ['model.json', 'weights.bin', 'optimizer.bin', 'state.json'] as const;

/** What a training loop yields, in order. */
export type TrainEvent =
  | ({ type: 'step' } & MetricPoint & { trainLoss: number })
  | ({ type: 'eval' } & MetricPoint & { valLoss: number; valBpc: number })
  | { type: 'diverged'; step: number; reason: string }
  | { type: 'end'; step: number; epoch: number; reason: 'steps' | 'epochs' | 'seconds' | 'aborted' | 'diverged' };

export interface TrainLimits {
  /** Stop after this many more steps. */
  steps?: number;
  /** Stop after this many more epochs (fractional allowed). */
  epochs?: number;
  /** Stop after this many seconds of wall time (the step in flight finishes). */
  seconds?: number;
  signal?: AbortSignal;
}

export interface SampleOptions {
  /** Characters to generate (not counting the prime). */
  length: number;
  /** 0 = argmax. */
  temperature: number;
  /** 0 = off. */
  topK: number;
  /** 1 = off. */
  topP: number;
  /** Text fed to the model before generating; every character must be in the vocabulary. */
  prime: string;
  seed: number;
  signal?: AbortSignal;
}

/** An error the caller caused (bad corpus, bad prime, bad config): maps to a 4xx. */
export class EngineInputError extends Error {
  constructor(
    message: string,
    /** Which input was wrong, e.g. 'corpus', 'prime', 'config.hidden'. */
    readonly field: string,
  ) {
    super(message);
    this.name = 'EngineInputError';
  }
}

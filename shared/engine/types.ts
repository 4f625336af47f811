// The engine's public contract. Everything outside shared/engine (functions/, the CLI,
// tests, benchmarks) depends on these shapes only; the engine knows nothing about HTTP or
// storage: it takes text and checkpoint bytes in, and gives events, text and bytes out.

/** Model shape. Stored in every checkpoint; fixed for the life of a run. */
export interface ModelConfig {
  cell: 'lstm' | 'gru';
  layers: number;
  hidden: number;
  /** Dropout between stacked layers (and before the head), training only. */
  dropout: number;
  /** Input encoding: one-hot, or a learned embedding of this size. (tfjs's own gather gradient needs
   * UnsortedSegmentSum, which wasm lacks; the engine writes that gradient as a matmul, so both
   * work on every backend.) */
  embedding: number | null;
}

/** Optimisation settings. May change between slices of a run (e.g. a lower lr). */
export interface TrainConfig {
  /** T: characters per BPTT window. */
  seqLen: number;
  /** B: parallel streams over the training text. */
  batchSize: number;
  lr: number;
  /** Multiply lr by this once per epoch after `lrDecayAfter` epochs (1 = off). */
  lrDecay: number;
  lrDecayAfter: number;
  amsgrad: boolean;
  /** Clip gradients to this global norm (0 = off). */
  gradClip: number;
  /** Measure validation loss every N steps (and at the end of a slice). */
  evalEvery: number;
  /** Cap on validation characters per evaluation (0 = the whole split). */
  evalChars: number;
  /** Training stops as diverged when loss is NaN or exceeds this × the first loss. */
  divergenceFactor: number;
  seed: number;
}

/** One checkpoint as files: the tfjs `model.json` + `weights.bin` layout (loadable by
 * `tf.loadLayersModel` in a browser), plus the optimizer's slots and the run state. */
export type CheckpointFiles = {
  'model.json': Uint8Array;
  'weights.bin': Uint8Array;
  'optimizer.bin': Uint8Array;
  'state.json': Uint8Array;
};
export const CHECKPOINT_FILE_NAMES = ['model.json', 'weights.bin', 'optimizer.bin', 'state.json'] as const;

/** One point of the loss history. */
export interface MetricPoint {
  step: number;
  epoch: number;
  trainLoss?: number;
  /** nats/char over the validation split. */
  valLoss?: number;
  /** bits/char = valLoss / ln 2. */
  valBpc?: number;
  lr?: number;
  charsPerSec?: number;
  /** Wall-clock ms since the epoch (Date.now()). */
  time: number;
  /** Text generated from the weights at this step while training (the prime not included). */
  sample?: { step: number; text: string };
}

/** The samples a run takes while training (functions/training/loop.ts). */
export interface TrainingSampleConfig {
  /** Steps between samples; null = at every validation; 0 = none. */
  every: number | null;
  /** Characters per sample. */
  length: number;
  /** The same seed every time: samples change only as the weights do. */
  seed: number;
  temperature: number;
  prime: string;
}

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

// The shapes a run is made of: the engine takes and produces them, the store keeps them in
// run.json and the metrics, the API validates and shows them (shared/api/schemas.ts checks its zod
// schemas against these). They import nothing but the preset names, so none of the three depends on
// another for them.
import type { Preset } from './presets.ts';

/** Model shape. Stored in every checkpoint; fixed for the life of a run. */
export interface ModelConfig {
  cell: 'lstm' | 'gru';
  layers: number;
  hidden: number;
  /** Dropout between stacked layers (and before the head), training only. */
  dropout: number;
  /** Input encoding: one-hot (a row gather of layer 0's input kernel), or a learned embedding of this size. */
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
  /** Which slice wrote it: the store's metrics segment, set when read back (absent while training). */
  segment?: string;
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

/** A run's configuration as asked for: a preset and any field of the configs, all optional (resolveConfig). */
export interface ConfigInput extends Partial<ModelConfig>, Partial<TrainConfig> {
  preset?: Preset;
  /** How long the run is meant to train, in seconds: what `auto` sizes the model for. */
  budgetSeconds?: number;
  sampleEvery?: number | null;
  sampleLength?: number;
  sampleSeed?: number;
  sampleTemperature?: number;
  samplePrime?: string;
}

// ConfigInput (all optional) → full ModelConfig + TrainConfig: preset first, then explicit fields.
import { DEFAULT_PRESET, PRESET_SHAPES } from '../presets.ts';
import type { ConfigInput, ModelConfig, TrainConfig, TrainingSampleConfig } from './types.ts';

export { DEFAULT_PRESET, PRESET_SHAPES, type Preset } from '../presets.ts';

export const DEFAULT_MODEL: ModelConfig = { cell: 'lstm', ...PRESET_SHAPES[DEFAULT_PRESET], dropout: 0, embedding: null };

export const DEFAULT_TRAIN: TrainConfig = {
  seqLen: 64,
  batchSize: 32,
  lr: 2e-3,
  lrDecay: 0.97,
  lrDecayAfter: 10,
  amsgrad: false,
  gradClip: 5,
  evalEvery: 100,
  // Cap validation at 20k characters per evaluation so evals stay quick; 0 = whole split.
  evalChars: 20_000,
  divergenceFactor: 3,
  seed: 1337,
};

export const DEFAULT_TRAINING_SAMPLES: TrainingSampleConfig = { every: null, length: 200, seed: 1, temperature: 0.8, prime: '' };

/**
 * The samples a run takes while training: `stored` (a run record's, possibly written before a
 * field existed) or the defaults, then explicit sample* fields of `input`.
 */
export function resolveSampleConfig(input: ConfigInput = {}, stored: Partial<TrainingSampleConfig> = {}): TrainingSampleConfig {
  const base = { ...DEFAULT_TRAINING_SAMPLES, ...stored };
  return {
    every: input.sampleEvery ?? base.every,
    length: input.sampleLength ?? base.length,
    seed: input.sampleSeed ?? base.seed,
    temperature: input.sampleTemperature ?? base.temperature,
    prime: input.samplePrime ?? base.prime,
  };
}

export function resolveConfig(input: ConfigInput = {}): { model: ModelConfig; train: TrainConfig } {
  const shape = PRESET_SHAPES[input.preset ?? DEFAULT_PRESET];
  const model: ModelConfig = {
    cell: input.cell ?? DEFAULT_MODEL.cell,
    layers: input.layers ?? shape.layers,
    hidden: input.hidden ?? shape.hidden,
    dropout: input.dropout ?? DEFAULT_MODEL.dropout,
    embedding: input.embedding ?? null,
  };
  const train = { ...DEFAULT_TRAIN };
  for (const k of Object.keys(DEFAULT_TRAIN) as (keyof TrainConfig)[]) {
    const v = input[k];
    if (v !== undefined) (train as Record<string, unknown>)[k] = v;
  }
  return { model, train };
}

/** Trainable parameters of a model over a vocabulary of `vocabSize` characters. */
export function countParams(model: ModelConfig, vocabSize: number): number {
  const gates = model.cell === 'lstm' ? 4 : 3;
  const H = model.hidden;
  let n = 0;
  let inDim = vocabSize;
  if (model.embedding) {
    n += vocabSize * model.embedding;
    inDim = model.embedding;
  }
  for (let l = 0; l < model.layers; l++) {
    n += gates * H * (inDim + H + 1);
    inDim = H;
  }
  return n + H * vocabSize + vocabSize;
}

// ConfigInput (all optional) → full ModelConfig + TrainConfig: preset first, then explicit fields.
import { DEFAULT_PRESET, PRESET_SHAPES, type AutoSize, type Size } from '../presets.ts';
import type { ConfigInput, ModelConfig, TrainConfig, TrainingSampleConfig } from './types.ts';

export { autoSize, countParams, DEFAULT_PRESET, PRESET_SHAPES, type AutoSize, type Preset } from '../presets.ts';

/** The size `auto` stands for where no corpus is known (engine tests, benchmarks): a run's own
 * `auto` is chosen from its corpus (autoSize, functions/runs/service.ts). */
const NO_CORPUS_SIZE: Size = 'small';

export const DEFAULT_MODEL: ModelConfig = { cell: 'lstm', ...PRESET_SHAPES[NO_CORPUS_SIZE], dropout: 0, embedding: null };

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

/**
 * A run's configs: the preset's shape (for `auto`, the default, `auto`'s choice for the corpus when
 * the caller has made it; else the small size), then every explicit field, which always wins.
 * `sizing` says in one line which size that is and why (the run's record keeps it).
 */
export function resolveConfig(input: ConfigInput = {}, auto?: AutoSize): { model: ModelConfig; train: TrainConfig; sizing: string } {
  const preset = input.preset ?? DEFAULT_PRESET;
  const size = preset === 'auto' ? NO_CORPUS_SIZE : preset;
  const shape = preset === 'auto' && auto ? auto : PRESET_SHAPES[size];
  // auto's dropout goes with auto's size: an explicit size is the caller's, and so is its dropout.
  const sizedByAuto = preset === 'auto' && auto !== undefined && input.layers === undefined && input.hidden === undefined;
  const model: ModelConfig = {
    cell: input.cell ?? DEFAULT_MODEL.cell,
    layers: input.layers ?? shape.layers,
    hidden: input.hidden ?? shape.hidden,
    dropout: input.dropout ?? (sizedByAuto ? auto!.dropout : DEFAULT_MODEL.dropout),
    embedding: input.embedding ?? null,
  };
  const train = { ...DEFAULT_TRAIN };
  for (const k of Object.keys(DEFAULT_TRAIN) as (keyof TrainConfig)[]) {
    const v = input[k];
    if (v !== undefined) (train as Record<string, unknown>)[k] = v;
  }
  const shapeText = `${model.layers}×${model.hidden}`;
  const sizing =
    (sizedByAuto ? `auto: ${auto!.reason}`
      : input.layers !== undefined || input.hidden !== undefined ? `${shapeText}: set explicitly`
      : preset === 'auto' ? `${size} ${shapeText}: auto without a corpus`
      : `${preset} ${shapeText}: preset chosen`) +
    (input.dropout !== undefined ? `; dropout ${input.dropout} set explicitly` : '');
  return { model, train, sizing };
}

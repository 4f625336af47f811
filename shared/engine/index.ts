// The engine's public API: text and checkpoint bytes in; events, text and bytes out.
export * from './types.ts';
export { initBackend, currentBackend } from './backend.ts';
export { decodeCorpus, loadBuiltinCorpus, splitCorpus, type BuiltinCorpus } from './corpus.ts';
export { Vocab, formatChars } from './vocab.ts';
export { resolveConfig, countParams, PRESET_SHAPES, DEFAULT_PRESET, DEFAULT_TRAIN, DEFAULT_MODEL, type Preset } from './config.ts';
export { checkCorpusFits } from './batches.ts';
export { Trainer, estimateTrainHeapBytes, type EvalResult } from './train.ts';
export { Sampler } from './sample.ts';
export { BatchSampler, SampleStream } from './batch-sampler.ts';
export { readCheckpointInfo, type CheckpointInfo } from './checkpoint.ts';

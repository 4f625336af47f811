// The engine's pieces that load without tfjs: the contract, corpora, vocabulary, configs, checkpoint
// metadata, sampling options, the backend decision and the thread plan. A server thread that only
// lists, validates and routes imports from here; index.ts adds what needs tfjs (training, sampling,
// the backend itself), and loading it costs ~0.5–1 s of CPU (test/cli/cold.test.ts keeps the CLI off it).
export * from './types.ts';
export { decodeCorpus, loadBuiltinCorpus, splitCorpus, type BuiltinCorpus } from './corpus.ts';
export { Vocab, checkPrime, formatChars } from './vocab.ts';
export { resolveConfig, resolveSampleConfig, DEFAULT_TRAINING_SAMPLES, countParams, autoSize, PRESET_SHAPES, DEFAULT_PRESET, DEFAULT_TRAIN, DEFAULT_MODEL, type AutoSize, type Preset } from './config.ts';
export { checkCorpusFits } from './batches.ts';
export { readCheckpointInfo, readModelFiles, type CheckpointInfo } from './checkpoint.ts';
export { validateSampleOptions } from './pick.ts';
export { BackendUnavailableError, describeBackend, foreseeBackend, type BackendChoice, type BackendInfo, type BackendName } from './backend-choice.ts';
export { nativeAddonMissing, nativeAddonPresent } from './native-packages.ts';
export { threadPlan, planOverrides, type ThreadPlan, type ThreadPlanInput } from './threads.ts';
export { TextChannel, type ChannelStatus } from './text-channel.ts';

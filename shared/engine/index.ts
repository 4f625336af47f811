// The engine's public API: text and checkpoint bytes in; events, text and bytes out. Everything in
// tf-free.ts, plus what loads tfjs.
export * from './tf-free.ts';
export { initBackend, currentBackend, backendInfo, backendSkipped } from './backend.ts';
export { Trainer, estimateTrainHeapBytes, type EvalResult } from './train.ts';
export { BatchSampler, SampleStream } from './batch-sampler.ts';

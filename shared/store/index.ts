// The store's public surface: import from here (or from types.ts for the contract alone).
export * from './types.ts';
export { validateId, validateKey, compareKeys } from './keys.ts';
export { FileObjectStore, fileStoreRoot } from './file-store.ts';
export { S3ObjectStore, parseS3Url, s3ClientConfig, MULTIPART_THRESHOLD } from './s3-store.ts';
export { RunStore, newMetricsSegment, keepCheckpointsFromEnv, type LoadedCheckpoint, type RunPatch, type RunStoreOptions } from './run-store.ts';
export { openObjectStore, openRunStore } from './open.ts';

// The store's public surface: import from here (or from types.ts for the contract alone).
export * from './types.ts';
export { validateId, validateKey, validateFeedKey, compareKeys, FEED_PREFIX } from './keys.ts';
export { FileObjectStore, fileStoreRoot } from './file-store.ts';
// S3ObjectStore lives in ./s3-store.ts: import it from there (it loads the AWS SDK); openObjectStore loads it lazily.
export { parseS3Url, type S3Location } from './s3-url.ts';
export { RunStore, newMetricsSegment, type LoadedCheckpoint, type RunPatch, type RunStoreOptions } from './run-store.ts';
export { openObjectStore, openRunStore } from './open.ts';

// Picks the store from CHARRNN_STORE: unset → ./.charrnn (file store), file://… → file store,
// s3://bucket/prefix → S3. Anything else is a configuration error with a message saying what to set.
import { FileObjectStore } from './file-store.ts';
import { RunStore, type RunStoreOptions } from './run-store.ts';
import { S3ObjectStore } from './s3-store.ts';
import { StoreConfigError, type ObjectStore } from './types.ts';

export function openObjectStore(url: string | undefined = process.env.CHARRNN_STORE): ObjectStore {
  if (url === undefined || url === '' || url.startsWith('file:')) return FileObjectStore.fromUrl(url);
  if (url.startsWith('s3://')) return new S3ObjectStore(url);
  throw new StoreConfigError(`CHARRNN_STORE must be file:///absolute/path, file://relative/path or s3://bucket/prefix (got ${JSON.stringify(url)})`);
}

export function openRunStore(url?: string, opts?: RunStoreOptions): RunStore {
  return new RunStore(openObjectStore(url ?? process.env.CHARRNN_STORE), opts);
}

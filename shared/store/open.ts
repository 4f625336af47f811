// Picks the store from the caller's URL (CHARRNN_STORE): unset → ./.charrnn (file store), file://… → file store,
// s3://bucket/prefix → S3. Anything else is a configuration error with a message saying what to set.
import { FileObjectStore } from './file-store.ts';
import { RunStore, type RunStoreOptions } from './run-store.ts';
import { parseS3Url } from './s3-url.ts';
import { StoreConfigError, type ObjectInfo, type ObjectStore, type PutOptions, type S3Settings, type StoreSettings } from './types.ts';

export function openObjectStore(url?: string, s3: S3Settings = {}): ObjectStore {
  if (url === undefined || url === '' || url.startsWith('file:')) return FileObjectStore.fromUrl(url);
  if (url.startsWith('s3://')) return new LazyS3Store(url, s3);
  throw new StoreConfigError(`CHARRNN_STORE must be file:///absolute/path, file://relative/path or s3://bucket/prefix (got ${JSON.stringify(url)})`);
}

/** The run store the settings describe (a string: just its URL). `opts` win over the settings. */
export function openRunStore(settings: string | StoreSettings = {}, opts: RunStoreOptions = {}): RunStore {
  const s = typeof settings === 'string' ? { url: settings } : settings;
  return new RunStore(openObjectStore(s.url, s.s3), { ...(s.keepCheckpoints !== undefined ? { keepCheckpoints: s.keepCheckpoints } : {}), ...opts });
}

/**
 * The S3 store, with the AWS SDK loaded on first use: the URL is validated now (a bad
 * CHARRNN_STORE fails at startup), the ~100 ms SDK import happens only for S3 users.
 */
class LazyS3Store implements ObjectStore {
  readonly url: string;
  private inner?: Promise<ObjectStore>;

  constructor(
    private readonly s3Url: string,
    private readonly s3: S3Settings,
  ) {
    const { bucket, prefix } = parseS3Url(s3Url);
    this.url = `s3://${bucket}/${prefix}`;
  }

  private store(): Promise<ObjectStore> {
    return (this.inner ??= import('./s3-store.ts').then((m) => new m.S3ObjectStore(this.s3Url, { s3: this.s3 })));
  }

  async put(key: string, body: Uint8Array | string, opts?: PutOptions): Promise<{ etag: string }> {
    return (await this.store()).put(key, body, opts);
  }
  async get(key: string): Promise<{ body: Uint8Array; etag: string } | null> {
    return (await this.store()).get(key);
  }
  async head(key: string): Promise<ObjectInfo | null> {
    return (await this.store()).head(key);
  }
  async list(prefix: string): Promise<ObjectInfo[]> {
    return (await this.store()).list(prefix);
  }
  async delete(key: string, opts?: { ifMatch?: string }): Promise<void> {
    return (await this.store()).delete(key, opts);
  }
  async listKeys(prefix: string): Promise<string[]> {
    const s = await this.store();
    return s.listKeys ? s.listKeys(prefix) : (await s.list(prefix)).map((o) => o.key);
  }
  async listChildren(prefix: string): Promise<string[]> {
    // S3ObjectStore always has it; the fallback only keeps the types honest.
    const s = await this.store();
    if (s.listChildren) return s.listChildren(prefix);
    return [...new Set((await s.list(prefix)).map((o) => o.key.slice(prefix.length).split('/')[0]))];
  }
}

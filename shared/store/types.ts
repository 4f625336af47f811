// The store's public contract. Two layers:
//  - ObjectStore: bytes under keys, with conditional writes. Implemented twice (local files, S3).
//  - RunStore: runs, corpora, checkpoints (commit protocol, retention), metrics, leases. Written
//    once, on top of any ObjectStore, so both backends share every rule.
// Nothing here knows about tfjs: checkpoints are named byte blobs.
import type { ModelConfig, TrainConfig, TrainingSampleConfig } from '../run-types.ts';

export interface PutOptions {
  /** Create only: fail with PreconditionFailedError if the key exists. */
  ifNoneMatch?: '*';
  /** Replace only if the current ETag is this one. */
  ifMatch?: string;
  contentType?: string;
}

export interface ObjectInfo {
  key: string;
  etag: string;
  size: number;
}

export interface ObjectStore {
  /** Where this store lives, for messages: 'file:///…' or 's3://bucket/prefix'. */
  readonly url: string;
  put(key: string, body: Uint8Array | string, opts?: PutOptions): Promise<{ etag: string }>;
  /** null when the key does not exist. */
  get(key: string): Promise<{ body: Uint8Array; etag: string } | null>;
  head(key: string): Promise<ObjectInfo | null>;
  /** Every key under prefix, in lexicographic order, across all pages. */
  list(prefix: string): Promise<ObjectInfo[]>;
  /** Deleting a missing key is not an error. With ifMatch, delete only that version
   * (a missing key or another version → PreconditionFailedError). */
  delete(key: string, opts?: { ifMatch?: string }): Promise<void>;
  /** Like list, keys only. Optional: cheaper where ETags cost a read (the file store hashes content). */
  listKeys?(prefix: string): Promise<string[]>;
  /** Optional: the names one level below `prefix` ('' or ending in '/'): objects and "directories"
   * alike, without the prefix or a trailing '/', sorted, unique. Like S3's Delimiter='/' listing. */
  listChildren?(prefix: string): Promise<string[]>;
}

/** A conditional write lost (the key exists, or its ETag moved). */
export class PreconditionFailedError extends Error {
  constructor(readonly key: string) {
    super(`precondition failed for ${key}`);
    this.name = 'PreconditionFailedError';
  }
}

/** The store itself failed (unreachable, disk full, permission). Retryable or not, it is not the caller's fault. */
export class StoreUnavailableError extends Error {
  constructor(message: string, readonly cause?: unknown) {
    super(message);
    this.name = 'StoreUnavailableError';
  }
}

/** Someone else holds the run's lease. */
export class LeaseConflictError extends Error {
  constructor(readonly runId: string, readonly holder: string, readonly expiresAt: number) {
    super(`run ${runId} is being trained by ${holder} (lease until ${new Date(expiresAt).toISOString()})`);
    this.name = 'LeaseConflictError';
  }
}

/** A run id or key that could escape the store's prefix, or is otherwise unusable. */
export class InvalidKeyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvalidKeyError';
  }
}

export type RunStatus = 'idle' | 'training' | 'failed';

/** runs/<id>/run.json */
export interface RunRecord {
  id: string;
  /** Human label; defaults to the id. */
  name: string;
  /** 'builtin:moby-dick', 'sha256:<hex>' (a corpora/ object) or 'key:feeds/<name>.txt' (a mutable feed object). */
  corpus: string;
  /** Display name of the corpus (built-in name or uploaded file name). */
  corpusName: string;
  model: ModelConfig;
  train: TrainConfig;
  /** The samples it takes while training (absent, or missing fields, in runs created before they existed). */
  sample?: Partial<TrainingSampleConfig>;
  /** Characters in the corpus's vocabulary, and trainable parameters (absent in runs created before they were recorded). */
  vocabSize?: number;
  params?: number;
  /** Which size and why, in one line (resolveConfig's `sizing`; absent in runs created before it was recorded). */
  sizing?: string;
  status: RunStatus;
  /** Latest committed checkpoint step (0 before the first). */
  step: number;
  epoch: number;
  latestValLoss: number | null;
  bestValLoss: number | null;
  /** Set when status is 'failed'. */
  error?: string;
  /** For a feed corpus ('key:feeds/<name>.txt'): the version last trained on (retrain compares it with the object now there). */
  corpusVersion?: CorpusVersion;
  createdAt: string;
  updatedAt: string;
}

/** One version of a feed object (feeds/<name>.txt): content hash (backend-independent) and the store's ETag. */
export interface CorpusVersion {
  /** 'sha256:<64 hex>' of the object's bytes. */
  sha256: string;
  etag: string;
  bytes: number;
}

/** runs/<id>/latest.json and best.json */
export interface CheckpointPointer {
  step: number;
  valLoss: number | null;
  /** The object keys of the checkpoint's files, relative to the run (checkpoints/<step>/<name>). */
  files: string[];
  committedAt: string;
  /** Epoch at the checkpoint (absent in pointers written before it was added). */
  epoch?: number;
}

export interface Lease {
  runId: string;
  holder: string;
  expiresAt: number;
  /** ETag of lease.json as written by this holder (for IfMatch renew/release). */
  etag: string;
}

export type CheckpointRef = 'latest' | 'best' | number;

/** createRun found a run with this id already. */
export class RunExistsError extends Error {
  constructor(readonly runId: string) {
    super(`run ${runId} already exists; pick another id or delete it first`);
    this.name = 'RunExistsError';
  }
}

/** The run does not exist (updateRun on a missing id, a checkpoint of an unknown run). */
export class RunNotFoundError extends Error {
  constructor(readonly runId: string) {
    super(`run ${runId} does not exist`);
    this.name = 'RunNotFoundError';
  }
}

/**
 * The store's settings, given by its caller: the store reads no environment variable itself
 * (functions/settings.ts reads CHARRNN_STORE, CHARRNN_KEEP_CHECKPOINTS and the S3 ones; the AWS
 * SDK reads its own chain: region, credentials).
 */
export interface StoreSettings {
  /** file:///abs/path, file://rel/path or s3://bucket/prefix; unset or '' = ./.charrnn. */
  url?: string;
  /** Newest complete checkpoints kept per run (RunStoreOptions.keepCheckpoints); unset = 3. */
  keepCheckpoints?: number;
  /** An s3:// store's client settings. */
  s3?: S3Settings;
}

/** What charrnn sets on the S3 client beyond the SDK's own configuration chain (s3-store.ts). */
export interface S3Settings {
  /** A custom endpoint (MinIO, s3rver…): AWS_ENDPOINT_URL_S3, else AWS_ENDPOINT_URL. */
  endpoint?: string;
  /** Path-style addressing: CHARRNN_S3_FORCE_PATH_STYLE=1; always on with a custom endpoint. */
  forcePathStyle?: boolean;
}

/** CHARRNN_STORE (or a URL passed to openObjectStore) is malformed. A user error: fix the setting. */
export class StoreConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StoreConfigError';
  }
}

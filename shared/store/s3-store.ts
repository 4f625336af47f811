// ObjectStore on S3 (or anything speaking its API): CHARRNN_STORE=s3://bucket/prefix.
//
// Region and credentials come from the SDK's standard chains (AWS_REGION, AWS_PROFILE,
// AWS_ACCESS_KEY_ID/…, SSO, IMDS/ECS/web identity); nothing charrnn-specific.
// Endpoint: AWS_ENDPOINT_URL_S3, else AWS_ENDPOINT_URL. The SDK reads both itself (verified in
// @smithy/core getEndpointUrlConfig); the caller reads them too (functions/settings.ts, into
// S3Settings: this file reads no environment) only to decide path-style addressing, which is on
// when an endpoint is set (MinIO, s3rver, Ceph rarely do virtual hosts) or when
// CHARRNN_S3_FORCE_PATH_STYLE=1.
// Checksums: WHEN_REQUIRED. The default (WHEN_SUPPORTED) adds flexible checksums to every
// request, and for streamed bodies uses aws-chunked framing with trailers, which some
// S3-compatible servers (s3rver among them) store verbatim: silent corruption.
// Failure bounds: 3 attempts, 3 s to connect, 5 s of socket idleness, so an unreachable S3 fails
// in roughly 10-15 s with StoreUnavailableError instead of hanging for minutes.
import type { Readable } from 'node:stream';
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { compareKeys, validateDirPrefix, validateKey, validatePrefix } from './keys.ts';
import { parseS3Url } from './s3-url.ts';

export { parseS3Url, type S3Location } from './s3-url.ts';
import {
  InvalidKeyError,
  PreconditionFailedError,
  StoreConfigError,
  StoreUnavailableError,
  type ObjectInfo,
  type ObjectStore,
  type PutOptions,
  type S3Settings,
} from './types.ts';

/** Puts above this size go through multipart upload (parts of this size). */
export const MULTIPART_THRESHOLD = 8 * 1024 * 1024;

/** The client settings charrnn uses, from the caller's S3Settings. `overrides` win (tests pass endpoint/credentials). */
export function s3ClientConfig(s3: S3Settings = {}, overrides: S3ClientConfig = {}): S3ClientConfig {
  const endpoint = s3.endpoint || undefined;
  return {
    ...(endpoint ? { endpoint } : {}),
    forcePathStyle: s3.forcePathStyle === true || endpoint !== undefined || overrides.endpoint !== undefined,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    maxAttempts: 3,
    requestHandler: { connectionTimeout: 3_000, socketTimeout: 5_000 },
    ...overrides,
  };
}

interface AwsError {
  name?: string;
  message?: string;
  Code?: string;
  $metadata?: { httpStatusCode?: number };
}

export class S3ObjectStore implements ObjectStore {
  readonly url: string;
  readonly bucket: string;
  readonly prefix: string;
  readonly client: S3Client;

  constructor(url: string, opts: { client?: S3Client; s3?: S3Settings; clientConfig?: S3ClientConfig } = {}) {
    const loc = parseS3Url(url);
    this.bucket = loc.bucket;
    this.prefix = loc.prefix;
    this.url = `s3://${loc.bucket}/${loc.prefix}`;
    this.client = opts.client ?? new S3Client(s3ClientConfig(opts.s3, opts.clientConfig));
  }

  async put(key: string, body: Uint8Array | string, opts: PutOptions = {}): Promise<{ etag: string }> {
    validateKey(key);
    const data = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
    const params = {
      Bucket: this.bucket,
      Key: this.prefix + key,
      Body: data,
      ContentType: opts.contentType ?? 'application/octet-stream',
      ...(opts.ifNoneMatch ? { IfNoneMatch: opts.ifNoneMatch } : {}),
      ...(opts.ifMatch !== undefined ? { IfMatch: opts.ifMatch } : {}),
    };
    try {
      if (data.byteLength > MULTIPART_THRESHOLD) {
        // Upload forwards IfNoneMatch/IfMatch to CompleteMultipartUpload, where S3 checks them.
        const upload = new Upload({ client: this.client, params, partSize: MULTIPART_THRESHOLD, queueSize: 4, leavePartsOnError: false });
        const res = await upload.done();
        return { etag: res.ETag ?? '' };
      }
      const res = await this.client.send(new PutObjectCommand(params));
      return { etag: res.ETag ?? '' };
    } catch (err) {
      throw this.mapError(err, 'put', key);
    }
  }

  async get(key: string): Promise<{ body: Uint8Array; etag: string } | null> {
    validateKey(key);
    try {
      const res = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: this.prefix + key }));
      const body = await readBody(res.Body as Readable, res.ContentLength);
      return { body, etag: res.ETag ?? '' };
    } catch (err) {
      if (isNotFound(err)) return null;
      throw this.mapError(err, 'get', key);
    }
  }

  async head(key: string): Promise<ObjectInfo | null> {
    validateKey(key);
    try {
      const res = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: this.prefix + key }));
      return { key, etag: res.ETag ?? '', size: res.ContentLength ?? 0 };
    } catch (err) {
      if (isNotFound(err)) return null;
      throw this.mapError(err, 'head', key);
    }
  }

  async list(prefix: string): Promise<ObjectInfo[]> {
    validatePrefix(prefix);
    const out: ObjectInfo[] = [];
    let token: string | undefined;
    try {
      do {
        const res = await this.client.send(
          new ListObjectsV2Command({ Bucket: this.bucket, Prefix: this.prefix + prefix, ContinuationToken: token }),
        );
        for (const obj of res.Contents ?? []) {
          if (!obj.Key?.startsWith(this.prefix)) continue;
          out.push({ key: obj.Key.slice(this.prefix.length), etag: obj.ETag ?? '', size: obj.Size ?? 0 });
        }
        token = res.IsTruncated ? res.NextContinuationToken : undefined;
      } while (token);
    } catch (err) {
      throw this.mapError(err, 'list', prefix || '(all keys)');
    }
    // S3 already lists in UTF-8 byte order; sort anyway so every backend agrees.
    return out.sort((a, b) => compareKeys(a.key, b.key));
  }

  async listKeys(prefix: string): Promise<string[]> {
    return (await this.list(prefix)).map((info) => info.key);
  }

  async listChildren(prefix: string): Promise<string[]> {
    validateDirPrefix(prefix);
    const base = this.prefix + prefix;
    const names = new Set<string>();
    let token: string | undefined;
    try {
      do {
        const res = await this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: base, Delimiter: '/', ContinuationToken: token }));
        for (const p of res.CommonPrefixes ?? []) if (p.Prefix?.startsWith(base)) names.add(p.Prefix.slice(base.length, -1));
        for (const obj of res.Contents ?? []) if (obj.Key?.startsWith(base)) names.add(obj.Key.slice(base.length));
        token = res.IsTruncated ? res.NextContinuationToken : undefined;
      } while (token);
    } catch (err) {
      throw this.mapError(err, 'list', prefix || '(all keys)');
    }
    return [...names].filter((n) => n !== '').sort(compareKeys);
  }

  async delete(key: string, opts: { ifMatch?: string } = {}): Promise<void> {
    validateKey(key);
    try {
      await this.client.send(
        new DeleteObjectCommand({ Bucket: this.bucket, Key: this.prefix + key, ...(opts.ifMatch !== undefined ? { IfMatch: opts.ifMatch } : {}) }),
      );
    } catch (err) {
      // A conditional delete of a key that is gone lost its race, like a moved ETag.
      if (isNotFound(err) && opts.ifMatch !== undefined) throw new PreconditionFailedError(key);
      if (isNotFound(err)) return;
      throw this.mapError(err, 'delete', key);
    }
  }

  private mapError(err: unknown, op: string, key: string): Error {
    if (err instanceof InvalidKeyError || err instanceof PreconditionFailedError) return err;
    const e = (err ?? {}) as AwsError;
    const status = e.$metadata?.httpStatusCode;
    const name = e.name ?? e.Code ?? 'Error';
    if (status === 412 || name === 'PreconditionFailed' || name === 'ConditionalRequestConflict' || (status === 409 && /conditional/i.test(e.message ?? ''))) {
      return new PreconditionFailedError(key);
    }
    const where = `S3 store ${this.url}`;
    if (/region is missing/i.test(e.message ?? '')) return new StoreConfigError(`${where}: no AWS region configured; set AWS_REGION (or a region in your AWS profile)`);
    if (name === 'CredentialsProviderError' || /could not load credentials/i.test(e.message ?? '')) {
      return new StoreConfigError(`${where}: no AWS credentials found; set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or run with an IAM role`);
    }
    if (name === 'NoSuchBucket') return new StoreUnavailableError(`${where}: bucket ${this.bucket} does not exist`, err);
    if (status === 403 || name === 'AccessDenied') return new StoreUnavailableError(`${where}: access denied to ${op} ${key}; check the credentials' permissions`, err);
    const detail = status ? `${name} (HTTP ${status})` : `${name}: ${e.message ?? String(err)}`;
    return new StoreUnavailableError(`${where}: ${op} ${key} failed: ${detail}`, err);
  }
}

function isNotFound(err: unknown): boolean {
  const e = err as AwsError;
  return e?.name === 'NoSuchKey' || e?.name === 'NotFound' || e?.$metadata?.httpStatusCode === 404 && e?.name !== 'NoSuchBucket';
}

/** Reads a response stream into one buffer: preallocated when the length is known, so the bytes are copied once. */
async function readBody(stream: Readable, length: number | undefined): Promise<Uint8Array> {
  if (length !== undefined) {
    const out = Buffer.allocUnsafe(length);
    let offset = 0;
    for await (const chunk of stream) {
      const buf = chunk as Buffer;
      if (offset + buf.length > length) throw new Error(`response body longer than its Content-Length ${length}`);
      buf.copy(out, offset);
      offset += buf.length;
    }
    if (offset !== length) throw new Error(`response body ended after ${offset} of ${length} bytes`);
    return out;
  }
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

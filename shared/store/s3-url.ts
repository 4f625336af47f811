// s3://bucket/prefix parsing, apart from s3-store.ts so that opening a store can validate the
// URL without loading the AWS SDK (~100 ms of startup the file-store default never needs).
import { validateKey } from './keys.ts';
import { StoreConfigError } from './types.ts';

export interface S3Location {
  bucket: string;
  /** '' or 'some/prefix/' (always ending in '/'). */
  prefix: string;
}

/** Parses s3://bucket[/prefix]. */
export function parseS3Url(url: string): S3Location {
  const m = /^s3:\/\/([^/]+)(?:\/(.*))?$/.exec(url);
  if (!m) throw new StoreConfigError(`not an S3 URL: ${url} (expected s3://bucket/prefix)`);
  const bucket = m[1];
  if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket)) throw new StoreConfigError(`bad S3 bucket name ${JSON.stringify(bucket)} in ${url}`);
  const raw = (m[2] ?? '').replace(/^\/+|\/+$/g, '');
  let prefix = '';
  if (raw !== '') {
    try {
      validateKey(raw);
    } catch (err) {
      throw new StoreConfigError(`bad S3 prefix in ${url}: ${(err as Error).message}`);
    }
    prefix = `${raw}/`;
  }
  return { bucket, prefix };
}

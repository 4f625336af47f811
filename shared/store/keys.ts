// Validation of object keys and of the ids RunStore builds keys from. Both backends call
// validateKey, so a key that one store accepts the other accepts too, and nothing can step
// out of a local root directory or an S3 prefix.
import { RUN_ID_MAX, RUN_ID_PATTERN, RUN_ID_RULE } from '../run-id.ts';
import { InvalidKeyError } from './types.ts';

/** Leading segment reserved for the file store's own bookkeeping (temp files, locks). */
export const RESERVED_PREFIX = '.charrnn-';

const MAX_KEY_BYTES = 1024; // S3's limit
const MAX_SEGMENT_BYTES = 255; // most file systems' limit per path component

function describe(value: string): string {
  return JSON.stringify(value.length > 80 ? `${value.slice(0, 77)}...` : value);
}

/** Throws InvalidKeyError unless `key` is a relative, '/'-separated path of safe segments. */
export function validateKey(key: string): void {
  if (typeof key !== 'string' || key.length === 0) throw new InvalidKeyError('object key must be a non-empty string');
  if (key.includes('\0')) throw new InvalidKeyError(`object key ${describe(key)} contains a NUL character`);
  if (key.includes('\\')) throw new InvalidKeyError(`object key ${describe(key)} contains a backslash; use '/' between segments`);
  if (key.startsWith('/')) throw new InvalidKeyError(`object key ${describe(key)} must be relative (no leading '/')`);
  if (Buffer.from(key).toString() !== key) throw new InvalidKeyError(`object key ${describe(key)} is not well-formed unicode`);
  if (Buffer.byteLength(key) > MAX_KEY_BYTES) throw new InvalidKeyError(`object key is longer than ${MAX_KEY_BYTES} bytes`);
  const segments = key.split('/');
  for (const segment of segments) {
    if (segment === '') throw new InvalidKeyError(`object key ${describe(key)} has an empty segment ('//' or a trailing '/')`);
    if (segment === '.' || segment === '..') throw new InvalidKeyError(`object key ${describe(key)} contains a '${segment}' segment`);
    if (Buffer.byteLength(segment) > MAX_SEGMENT_BYTES) throw new InvalidKeyError(`object key ${describe(key)} has a segment longer than ${MAX_SEGMENT_BYTES} bytes`);
  }
  if (segments[0].startsWith(RESERVED_PREFIX)) throw new InvalidKeyError(`object key ${describe(key)} uses the reserved prefix '${RESERVED_PREFIX}'`);
}

/** A list prefix may be empty or end in '/'; otherwise it follows the key rules. */
export function validatePrefix(prefix: string): void {
  if (prefix === '') return;
  validateKey(prefix.endsWith('/') ? prefix.slice(0, -1) : prefix);
}

/** What could step out of the prefix when `value` becomes one key segment. */
function checkSegmentSafety(value: string, what: string): void {
  if (typeof value !== 'string' || value.length === 0) throw new InvalidKeyError(`${what} must be a non-empty string`);
  if (value.includes('\0')) throw new InvalidKeyError(`${what} ${describe(value)} contains a NUL character`);
  if (value.includes('/') || value.includes('\\')) throw new InvalidKeyError(`${what} ${describe(value)} must not contain '/' or '\\'`);
  if (value.includes('..')) throw new InvalidKeyError(`${what} ${describe(value)} must not contain '..'`);
  if (value.length > RUN_ID_MAX) throw new InvalidKeyError(`${what} is ${value.length} characters long; the limit is ${RUN_ID_MAX}`);
}

/** A run id (the rule: shared/run-id.ts), which becomes the key segment runs/<id>/. */
export function validateId(value: string): void {
  checkSegmentSafety(value, 'run id');
  if (!RUN_ID_PATTERN.test(value)) throw new InvalidKeyError(`run id ${describe(value)}: ${RUN_ID_RULE}`);
}

const SEGMENT_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/** A metrics segment name (one key segment): ASCII letters, digits, '.', '_', '-', starting with a letter or digit. */
export function validateSegmentName(value: string, what: string): void {
  checkSegmentSafety(value, what);
  if (!SEGMENT_PATTERN.test(value)) {
    throw new InvalidKeyError(`${what} ${describe(value)} may only use letters, digits, '.', '_' and '-', and must start with a letter or digit`);
  }
}

/** Where feed corpora live: mutable objects a run can train on, replaced by whoever publishes the text. */
export const FEED_PREFIX = 'feeds/';
const FEED_KEY = /^feeds\/(?:[A-Za-z0-9][A-Za-z0-9._-]*\/)*[A-Za-z0-9][A-Za-z0-9._-]*\.txt$/;

/** A feed key is 'feeds/<name>.txt' (nested folders allowed): segments of letters, digits, '.', '_', '-'
 * starting with a letter or digit, no '..', at most 256 characters. Nothing else in the store is reachable. */
export function validateFeedKey(key: string): void {
  if (typeof key !== 'string' || key.length > 256 || key.includes('..') || !FEED_KEY.test(key)) {
    throw new InvalidKeyError(`feed key ${describe(String(key))} must look like feeds/<name>.txt (letters, digits, '.', '_', '-'; no '..')`);
  }
  validateKey(key);
}

/** listChildren's prefix: '' or a valid key followed by '/'. */
export function validateDirPrefix(prefix: string): void {
  if (prefix === '') return;
  if (!prefix.endsWith('/')) throw new InvalidKeyError(`prefix ${describe(prefix)} must be empty or end in '/'`);
  validateKey(prefix.slice(0, -1));
}

/** Orders keys the way S3 lists them: by UTF-8 bytes (JS string order differs for astral characters). */
export function compareKeys(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

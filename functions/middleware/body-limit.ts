// Request-size cap: 413 with an ApiError before the body is buffered past the limit.
import type { MiddlewareHandler } from 'hono';
import { bodyLimit as honoBodyLimit } from 'hono/body-limit';
import { errorBody } from '../errors.ts';

export function bodyLimit(maxBytes: number, what = 'request body'): MiddlewareHandler {
  return honoBodyLimit({
    maxSize: maxBytes,
    onError: (c) => c.json(errorBody('payload_too_large', `${what} exceeds ${formatBytes(maxBytes)}`), 413),
  });
}

export function formatBytes(n: number): string {
  if (n >= 1024 * 1024) return `${+(n / 1024 / 1024).toFixed(1)} MB`;
  if (n >= 1024) return `${+(n / 1024).toFixed(1)} KB`;
  return `${n} bytes`;
}

// Bearer-token auth. The token is compared as SHA-256 digests with timingSafeEqual so neither the
// content nor the length leaks through timing; it is never logged or echoed.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { MiddlewareHandler } from 'hono';
import { errorBody } from '../errors.ts';

const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();

/** Requires `Authorization: Bearer <token>` on every path except `openPaths`. No token → no-op. */
export function bearerAuth(token: string | undefined, openPaths: string[] = ['/healthz']): MiddlewareHandler {
  if (!token) return async (_c, next) => next();
  const expected = digest(token);
  return async (c, next) => {
    if (openPaths.includes(c.req.path)) return next();
    const header = c.req.header('authorization') ?? '';
    const match = /^Bearer\s+(.+)$/i.exec(header);
    if (!match) {
      c.header('WWW-Authenticate', 'Bearer');
      return c.json(errorBody('unauthorized', 'missing bearer token: send Authorization: Bearer <CHARRNN_API_TOKEN>'), 401);
    }
    // No trim: \s+ takes the spaces before the token, and HTTP strips those after a header value.
    if (!timingSafeEqual(digest(match[1]), expected)) {
      c.header('WWW-Authenticate', 'Bearer error="invalid_token"');
      return c.json(errorBody('unauthorized', 'invalid bearer token'), 401);
    }
    return next();
  };
}

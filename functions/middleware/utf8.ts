// JSON request bodies must be strict UTF-8. Hono's decoder would turn bad bytes into U+FFFD, so a
// run's inline corpus or a prime would silently differ from what the client sent; say so instead.
import type { MiddlewareHandler } from 'hono';
import { errorBody } from '../errors.ts';

const JSON_TYPE = /^application\/([\w.+-]+\+)?json\b/i;

export function strictUtf8Json(): MiddlewareHandler {
  const decoder = new TextDecoder('utf-8', { fatal: true });
  return async (c, next) => {
    if (c.req.method === 'GET' || c.req.method === 'HEAD' || !JSON_TYPE.test(c.req.header('content-type') ?? '')) return next();
    // Read once here (after the body limit); Hono caches it for the validators.
    const bytes = await c.req.arrayBuffer();
    try {
      decoder.decode(bytes);
    } catch {
      return c.json(errorBody('invalid_body', 'request body is not valid UTF-8: send the JSON encoded as UTF-8'), 400);
    }
    return next();
  };
}

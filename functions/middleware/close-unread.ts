// A response sent before the request's body was read (413 from the body limit, 401 from auth)
// closes the connection. @hono/node-server drains such a body for at most 500 ms and then
// destroys the socket without saying so; a keep-alive client that reuses it fails with
// "other side closed" (seen in bad-input.test.ts on a loaded machine after a 160 KB body).
// With `Connection: close` the client knows not to reuse it.
import type { MiddlewareHandler } from 'hono';
import type { IncomingMessage } from 'node:http';

export function closeUnreadRequests(): MiddlewareHandler<{ Bindings: { incoming?: IncomingMessage } }> {
  return async (c, next) => {
    await next();
    const incoming = c.env?.incoming; // only on a real socket (@hono/node-server)
    if (incoming && !incoming.complete) c.res.headers.set('Connection', 'close');
  };
}

// GET /healthz (open, answers from memory: never touches the store and never starts tfjs). 503
// until the tfjs backend is ready, so a startup probe holds traffic until then.
import { createRoute } from '@hono/zod-openapi';
import { Health, HealthNotReady } from '../../shared/api/schemas.ts';
import { newRouter } from './validating-router.ts';
import type { Services } from '../services.ts';

const health = createRoute({
  method: 'get',
  path: '/healthz',
  tags: ['meta'],
  summary: 'Readiness: backend, device and version',
  security: [],
  responses: {
    200: { description: 'Ready', content: { 'application/json': { schema: Health } } },
    503: { description: 'The tfjs backend is not ready yet (or failed to initialise)', content: { 'application/json': { schema: HealthNotReady } } },
  },
});

export function healthRoutes(s: Services) {
  return newRouter().openapi(health, (c) => {
    const state = s.backend.current();
    if (!state) {
      const error = s.backend.error;
      return c.json({ ok: false as const, ready: false as const, version: s.version, ...(error ? { error } : {}) }, 503);
    }
    const { backend, device, blas } = state.info;
    return c.json({ ok: true as const, ready: true as const, backend, device, blas, version: s.version }, 200);
  });
}

// GET /healthz (open, answers from memory: never touches the store or tfjs).
import { createRoute } from '@hono/zod-openapi';
import { Health } from '../../shared/api/schemas.ts';
import { newRouter } from '../router.ts';
import type { Services } from '../services.ts';

const health = createRoute({
  method: 'get',
  path: '/healthz',
  tags: ['meta'],
  summary: 'Liveness: backend and version',
  security: [],
  responses: { 200: { description: 'Alive', content: { 'application/json': { schema: Health } } } },
});

export function healthRoutes(s: Services) {
  return newRouter().openapi(health, (c) => c.json({ ok: true as const, backend: s.backend(), version: s.version }, 200));
}

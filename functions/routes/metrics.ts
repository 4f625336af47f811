// GET /runs/:id/metrics: the loss history; `?follow=1` tails new points as SSE by polling the store,
// so it works while the run trains on any instance.
import { createRoute, z } from '@hono/zod-openapi';
import { streamSSE } from 'hono/streaming';
import { MetricsResponse } from '../../shared/api/schemas.ts';
import { requireRun } from '../runs/service.ts';
import { newRouter } from './validating-router.ts';
import type { Services } from '../services.ts';
import { errors, RunParams, sseContent } from './common.ts';

export const FOLLOW_POLL_MS = 500;
const KEEPALIVE_MS = 15_000;
const FULL_READ_MS = 5_000;

const MetricsQuery = z.object({
  follow: z.enum(['0', '1', 'true', 'false']).optional().openapi({ description: '1: stream new points as SSE `point` events until the client disconnects' }),
  afterStep: z.coerce.number().int().min(0).optional().openapi({ description: 'Only points after this step' }),
});

const metrics = createRoute({
  method: 'get',
  path: '/runs/{id}/metrics',
  tags: ['training'],
  summary: 'Loss history (optionally followed)',
  request: { params: RunParams, query: MetricsQuery },
  responses: {
    200: {
      description: 'Points ordered by step (JSON), or with follow=1 an event stream of `point` events',
      content: { 'application/json': { schema: MetricsResponse }, ...sseContent('point events (MetricPoint)') },
    },
    ...errors(400, 401, 404, 503),
  },
});

export function metricsRoutes(s: Services) {
  return newRouter().openapi(metrics, async (c) => {
    const { id } = c.req.valid('param');
    const { follow, afterStep } = c.req.valid('query');
    await requireRun(s, id);
    if (follow !== '1' && follow !== 'true') {
      return c.json({ points: await s.store.readMetrics(id, afterStep !== undefined ? { afterStep } : {}) }, 200);
    }
    c.header('X-Accel-Buffering', 'no'); // proxies must pass events through as they come
    return streamSSE(c, async (stream) => {
      let open = !s.closing.signal.aborted;
      const close = () => {
        open = false;
      };
      stream.onAbort(close);
      s.closing.signal.addEventListener('abort', close, { once: true });
      // Cursor: the last step sent, and which points at that step were sent (a step can carry a
      // train point and a later eval point, flushed separately).
      let last = afterStep ?? -1;
      let sentAtLast = new Set<string>();
      let lastWrite = Date.now();
      let seenVersion = '';
      let lastRead = 0;
      while (open) {
        try {
          // Metrics are flushed with each checkpoint, which also rewrites run.json: read the small
          // run record every poll, the segments only when it changed.
          // (Every few seconds read anyway: two run.json writes can share a timestamp.)
          const run = await s.store.getRun(id);
          const version = run ? `${run.updatedAt}/${run.step}/${run.status}` : '';
          const due = version !== seenVersion || Date.now() - lastRead >= FULL_READ_MS;
          const points = due ? await s.store.readMetrics(id, { afterStep: last - 1 }) : [];
          if (due) lastRead = Date.now();
          seenVersion = version;
          for (const p of points) {
            if (!open) break;
            const key = `${p.time}/${p.valLoss ?? ''}/${p.trainLoss ?? ''}`;
            if (p.step < last || (p.step === last && sentAtLast.has(key))) continue;
            await stream.writeSSE({ event: 'point', data: JSON.stringify(p) });
            lastWrite = Date.now();
            if (p.step > last) {
              last = p.step;
              sentAtLast = new Set();
            }
            sentAtLast.add(key);
          }
        } catch (err) {
          // A transient store failure should not end a long tail; the next poll retries.
          s.log(`metrics follow for ${id}: ${err instanceof Error ? err.message : String(err)}`);
        }
        if (open && Date.now() - lastWrite > KEEPALIVE_MS) {
          // A comment line keeps proxies and client body timeouts from closing a quiet tail.
          await stream.write(': keepalive\n\n');
          lastWrite = Date.now();
        }
        if (open) await stream.sleep(FOLLOW_POLL_MS);
      }
    });
  });
}

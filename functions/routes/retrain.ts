// POST /runs/:id/retrain (one scheduled tick, JSON RetrainReport) and GET /runs/:id/retrains.
import { createRoute, z } from '@hono/zod-openapi';
import { RetrainBody, RetrainList, RetrainReport } from '../../shared/api/schemas.ts';
import { errorBody } from '../errors.ts';
import { RetrainRecords } from '../retrain/records.ts';
import { reportStatus, retrain } from '../retrain/tick.ts';
import { requireRun } from '../runs/service.ts';
import { newRouter } from './validating-router.ts';
import type { Services } from '../services.ts';
import { errors, RunParams } from './common.ts';

const RetrainHeaders = z.object({
  'idempotency-key': z
    .string()
    .min(1)
    .max(200)
    .optional()
    .openapi({ description: 'Repeats with the same key answer with the first tick’s report and train nothing' }),
  'x-cloudscheduler-scheduletime': z.string().max(200).optional().openapi({ description: 'Used as the Idempotency-Key when none is sent (Cloud Scheduler sends it on every attempt)' }),
});

const reportJson = { 'application/json': { schema: RetrainReport } };

const tick = createRoute({
  method: 'post',
  path: '/runs/{id}/retrain',
  tags: ['training'],
  summary: 'One scheduled retrain tick',
  description:
    'Trains from the best checkpoint on the corpus at its current version (a feed corpus may have changed; new characters extend the model) ' +
    'for the budget (as for train), evaluates on the validation split before and after, and moves best only if validation loss improved; ' +
    'latest always moves to the newest committed state. The report is also stored (GET /runs/{id}/retrains). ' +
    'With an Idempotency-Key, a repeat answers with the first report (Idempotent-Replayed: true); a repeat while that tick still runs ' +
    'on this instance waits for it, on another instance gets 409 retrain_in_progress. A run that is training: 409. ' +
    'A corpus the run cannot train on: 422 retrain_rejected (the report says why; nothing else changes).',
  request: {
    params: RunParams,
    headers: RetrainHeaders,
    body: { required: false, content: { 'application/json': { schema: RetrainBody } } },
  },
  responses: {
    200: { description: 'The tick’s report (outcome promoted or kept)', content: reportJson },
    ...errors(400, 401, 404, 409, 413, 422, 503),
  },
});

const RetrainsQuery = z.object({
  limit: z.coerce.number().int().min(1).max(1000).optional().openapi({ description: 'At most this many reports (default 100)' }),
});

const list = createRoute({
  method: 'get',
  path: '/runs/{id}/retrains',
  tags: ['training'],
  summary: 'Retrain reports, newest first',
  request: { params: RunParams, query: RetrainsQuery },
  responses: { 200: { description: 'Reports', content: { 'application/json': { schema: RetrainList } } }, ...errors(400, 401, 404, 503) },
});

export function retrainRoutes(s: Services) {
  return newRouter()
    .openapi(tick, async (c) => {
      const { id } = c.req.valid('param');
      const headers = c.req.valid('header');
      const key = headers['idempotency-key'] ?? headers['x-cloudscheduler-scheduletime'] ?? null;
      const { report, replayed } = await retrain(s, id, c.req.valid('json') ?? {}, key);
      if (replayed) c.header('Idempotent-Replayed', 'true');
      if (reportStatus(report) === 422) {
        return c.json(errorBody('retrain_rejected', `${report.reason} (report ${report.id})`, 'corpus'), 422);
      }
      return c.json(report, 200);
    })
    .openapi(list, async (c) => {
      const { id } = c.req.valid('param');
      await requireRun(s, id);
      const retrains = await new RetrainRecords(s.store).listReports(id, c.req.valid('query').limit ?? 100);
      return c.json({ retrains }, 200);
    });
}

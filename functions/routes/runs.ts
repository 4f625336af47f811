// Runs: create (corpus + resolved config), list, get, delete.
import { createRoute } from '@hono/zod-openapi';
import { CreateRunBody, Run, RunList } from '../../shared/api/schemas.ts';
import { createRun, deleteRun, getRunView, listRunViews } from '../runs/service.ts';
import { newRouter } from './validating-router.ts';
import type { Services } from '../services.ts';
import { errors, RunParams } from './common.ts';

const runJson = { 'application/json': { schema: Run } };

const create = createRoute({
  method: 'post',
  path: '/runs',
  tags: ['runs'],
  summary: 'Create a run',
  description:
    'corpus: a built-in name, a sha256:<hex> ref from POST /corpora, or inline {text, name?}. ' +
    'config: a preset plus overrides. Id: body id, else a slug of name, else <corpus>-<random>.',
  request: { body: { required: true, content: { 'application/json': { schema: CreateRunBody } } } },
  responses: { 201: { description: 'Created', content: runJson }, ...errors(400, 401, 409, 413, 422, 503) },
});

const list = createRoute({
  method: 'get',
  path: '/runs',
  tags: ['runs'],
  summary: 'List runs',
  responses: { 200: { description: 'All runs', content: { 'application/json': { schema: RunList } } }, ...errors(401, 503) },
});

const get = createRoute({
  method: 'get',
  path: '/runs/{id}',
  tags: ['runs'],
  summary: 'One run (step = latest checkpointed step)',
  request: { params: RunParams },
  responses: { 200: { description: 'The run', content: runJson }, ...errors(400, 401, 404, 503) },
});

const del = createRoute({
  method: 'delete',
  path: '/runs/{id}',
  tags: ['runs'],
  summary: 'Delete a run and its checkpoints and metrics',
  request: { params: RunParams },
  responses: { 204: { description: 'Deleted' }, ...errors(400, 401, 404, 409, 503) },
});

export function runRoutes(s: Services) {
  return newRouter()
    .openapi(create, async (c) => c.json(await createRun(s, c.req.valid('json')), 201))
    .openapi(list, async (c) => c.json({ runs: await listRunViews(s) }, 200))
    .openapi(get, async (c) => c.json(await getRunView(s, c.req.valid('param').id), 200))
    .openapi(del, async (c) => {
      await deleteRun(s, c.req.valid('param').id);
      return c.body(null, 204);
    });
}

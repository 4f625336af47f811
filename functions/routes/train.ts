// POST /runs/:id/train: one bounded slice. SSE `progress` events then `done` (or `error`), or a
// JSON TrainSummary. A client that goes away does not stop the slice: it is bounded and checkpoints.
import { createRoute } from '@hono/zod-openapi';
import { streamSSE, type SSEStreamingApi } from 'hono/streaming';
import { TrainBody, TrainSummary } from '../../shared/api/schemas.ts';
import { errorBody, toHttpError } from '../errors.ts';
import { newRouter } from './validating-router.ts';
import type { Services } from '../services.ts';
import { errors, RunParams, sseContent, wantsSse } from './common.ts';

const train = createRoute({
  method: 'post',
  path: '/runs/{id}/train',
  tags: ['training'],
  summary: 'Train one slice',
  description:
    'Budget: steps, epochs and/or maxSeconds (none → the default slice seconds; maxSeconds is capped by CHARRNN_MAX_SLICE_SECONDS). ' +
    'Resumes from the latest checkpoint; checkpoints every checkpointSeconds and at the end. ' +
    'With Accept: text/event-stream: `progress` events (TrainProgress), then `done` (TrainSummary) or `error` (ApiError).',
  request: { params: RunParams, body: { required: false, content: { 'application/json': { schema: TrainBody } } } },
  responses: {
    200: {
      description: 'The slice summary (JSON) or its event stream',
      content: { 'application/json': { schema: TrainSummary }, ...sseContent('progress events, then done or error') },
    },
    ...errors(400, 401, 404, 409, 413, 422, 503),
  },
});

export function trainRoutes(s: Services) {
  return newRouter().openapi(train, async (c) => {
    const { id } = c.req.valid('param');
    const body = c.req.valid('json') ?? {};
    await s.backend.ready(); // the thread plan says where the slice trains (a lazy server loads tfjs here)
    const slice = await s.trainings.start(id, body);
    if (!wantsSse(c.req.header('accept'))) return c.json(await slice.done, 200);
    c.header('X-Accel-Buffering', 'no'); // proxies must pass events through as they come
    return streamSSE(c, (stream) => track(s.trainResponses, streamSlice(stream)));

    async function streamSlice(stream: SSEStreamingApi) {
      let open = true;
      stream.onAbort(() => {
        open = false;
      });
      const send = (event: string, data: unknown) => (open ? stream.writeSSE({ event, data: JSON.stringify(data) }).catch(() => {}) : Promise.resolve());
      const onProgress = (p: unknown) => void send('progress', p);
      slice.on('progress', onProgress);
      try {
        await send('done', await slice.done);
      } catch (err) {
        const e = toHttpError(err, s.log);
        await send('error', errorBody(e.code, e.message, e.field));
      } finally {
        slice.off('progress', onProgress);
      }
    }
  });
}

function track(set: Set<Promise<unknown>>, p: Promise<void>): Promise<void> {
  set.add(p);
  return p.finally(() => set.delete(p));
}

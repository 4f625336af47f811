// POST /runs/:id/sample: generate text from a checkpoint, as JSON or streamed as SSE events whose
// data is {"text": "<next chars>"}, then `done`. Generation stops when the client disconnects.
import { randomInt } from 'node:crypto';
import { createRoute } from '@hono/zod-openapi';
import { streamSSE } from 'hono/streaming';
import { SampleBody, SampleResult } from '../../shared/api/schemas.ts';
import { formatChars } from '../../shared/engine/vocab.ts';
import { errorBody, HttpError, toHttpError } from '../errors.ts';
import { requireRun } from '../runs/service.ts';
import { newRouter } from '../router.ts';
import type { Services } from '../services.ts';
import { errors, RunParams, sseContent, wantsSse } from './common.ts';

/** Chunks produced within this window go out as one event. */
export const SAMPLE_FLUSH_MS = 10;

const sample = createRoute({
  method: 'post',
  path: '/runs/{id}/sample',
  tags: ['sampling'],
  summary: 'Generate text',
  description:
    'From the latest (default), best or a numbered checkpoint. With Accept: text/event-stream: events with data {"text": "<next chars>"} ' +
    'as they are produced, then `done` ({seed, step, checkpoint}); on failure `error` (ApiError).',
  request: { params: RunParams, body: { required: false, content: { 'application/json': { schema: SampleBody } } } },
  responses: {
    200: { description: 'The text (JSON) or its event stream', content: { 'application/json': { schema: SampleResult }, ...sseContent('text chunks, then done') } },
    ...errors(400, 401, 404, 409, 413, 429, 503),
  },
});

export function sampleRoutes(s: Services) {
  return newRouter().openapi(sample, async (c) => {
    const { id } = c.req.valid('param');
    const body = SampleBody.parse(c.req.valid('json') ?? {}); // defaults also when no body was sent
    if (body.length > s.limits.maxSampleLength) {
      throw new HttpError(400, 'limit_exceeded', `length: ${body.length} exceeds this server's limit of ${s.limits.maxSampleLength}`, 'length');
    }
    if (s.sampling.active >= s.limits.maxSampleStreams) {
      throw new HttpError(429, 'too_many_streams', `this instance is already serving ${s.sampling.active} samples; retry shortly`);
    }
    s.sampling.active++;
    let handedOff = false;
    try {
      await requireRun(s, id);
      const lease = await s.samplers.acquire(id, body.checkpoint);
      try {
        const missing = lease.sampler.vocab.missing(body.prime);
        if (missing.length) {
          throw new HttpError(400, 'invalid_input', `prime: ${formatChars(missing)} not in this run's vocabulary`, 'prime');
        }
        const seed = body.seed ?? randomInt(0, 2 ** 31 - 1);
        const meta = { seed, step: lease.step, checkpoint: String(body.checkpoint) };
        const opts = { length: body.length, temperature: body.temperature, topK: body.topK, topP: body.topP, prime: body.prime, seed };

        if (!wantsSse(c.req.header('accept'))) {
          const abort = new AbortController();
          c.req.raw.signal?.addEventListener('abort', () => abort.abort());
          let text = '';
          for await (const chunk of lease.sampler.generate({ ...opts, signal: abort.signal })) text += chunk;
          return c.json({ text, ...meta }, 200);
        }

        handedOff = true;
        return streamSSE(c, async (stream) => {
          const abort = new AbortController();
          stream.onAbort(() => abort.abort());
          const onClosing = () => abort.abort();
          s.closing.signal.addEventListener('abort', onClosing, { once: true });
          c.req.raw.signal?.addEventListener('abort', () => abort.abort());
          try {
            let buf = '';
            let lastFlush = Date.now();
            for await (const chunk of lease.sampler.generate({ ...opts, signal: abort.signal })) {
              if (abort.signal.aborted) break;
              buf += chunk;
              if (Date.now() - lastFlush >= SAMPLE_FLUSH_MS) {
                await stream.writeSSE({ data: JSON.stringify({ text: buf }) });
                buf = '';
                lastFlush = Date.now();
              }
            }
            if (buf && !abort.signal.aborted) await stream.writeSSE({ data: JSON.stringify({ text: buf }) });
            if (!abort.signal.aborted) await stream.writeSSE({ event: 'done', data: JSON.stringify(meta) });
          } catch (err) {
            if (!abort.signal.aborted) {
              const e = toHttpError(err, s.log);
              await stream.writeSSE({ event: 'error', data: JSON.stringify(errorBody(e.code, e.message, e.field)) }).catch(() => {});
            }
          } finally {
            s.closing.signal.removeEventListener('abort', onClosing);
            lease.release();
            s.sampling.active--;
          }
        });
      } finally {
        if (!handedOff) lease.release();
      }
    } finally {
      if (!handedOff) s.sampling.active--;
    }
  });
}

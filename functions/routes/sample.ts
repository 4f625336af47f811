// POST /runs/:id/sample: generate text from a checkpoint, as JSON or streamed as SSE events whose
// data is {"text": "<next chars>"}, then `done`. Concurrent samples of one checkpoint share batched
// steps (a BatchSampler per sampling thread, see sampling/pool.ts); a stream stops when its client
// disconnects or the server shuts down.
import { randomInt } from 'node:crypto';
import { createRoute } from '@hono/zod-openapi';
import { streamSSE } from 'hono/streaming';
import { SampleBody, SampleResult } from '../../shared/api/schemas.ts';
import { errorBody, HttpError, toHttpError } from '../errors.ts';
import { checkPrime } from '../../shared/engine/tf-free.ts';
import { requireRun } from '../runs/service.ts';
import { newRouter } from './validating-router.ts';
import type { Services } from '../services.ts';
import { errors, RunParams, sseContent, wantsSse } from './common.ts';

/** Chunks produced within this window go out as one event. */
export const SAMPLE_FLUSH_MS = 10;
/** …and the window widens by this much per open stream: events, not steps, dominate the CPU cost
 * of many streams (32 streams: 32 ms windows, ~1000 events/s in all). */
export const SAMPLE_FLUSH_MS_PER_STREAM = 1;

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
  // Shutdown ends every open stream through one listener on the shared closing signal: a listener
  // (or an AbortSignal.any, which leaks on a long-lived source) per stream would pile up on it.
  const open = new Set<AbortController>();
  s.closing.signal.addEventListener('abort', () => open.forEach((a) => a.abort()), { once: true });

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
        checkPrime(lease.sampler.vocab, body.prime, 'prime');
        const seed = body.seed ?? randomInt(0, 2 ** 31 - 1);
        const meta = { seed, step: lease.step, checkpoint: String(body.checkpoint) };
        const opts = { length: body.length, temperature: body.temperature, topK: body.topK, topP: body.topP, prime: body.prime, seed };

        if (!wantsSse(c.req.header('accept'))) {
          let text = '';
          for await (const chunk of lease.sampler.open({ ...opts, signal: c.req.raw.signal })) text += chunk;
          return c.json({ text, ...meta }, 200);
        }

        // Ends on client disconnect or shutdown.
        const abort = new AbortController();
        const { signal } = abort;
        const chars = lease.sampler.open({ ...opts, signal });
        open.add(abort);
        if (s.closing.signal.aborted) abort.abort();
        c.req.raw.signal?.addEventListener('abort', () => abort.abort(), { once: true });
        handedOff = true;
        c.header('X-Accel-Buffering', 'no'); // proxies must pass events through as they come
        return streamSSE(c, async (stream) => {
          stream.onAbort(() => abort.abort());
          try {
            // The first chunk goes out at once; later ones gather for the flush window.
            let buf = '';
            let lastFlush = -Infinity;
            for await (const chunk of chars) {
              buf += chunk;
              if (performance.now() - lastFlush >= Math.max(SAMPLE_FLUSH_MS, s.sampling.active * SAMPLE_FLUSH_MS_PER_STREAM)) {
                await stream.writeSSE({ data: JSON.stringify({ text: buf }) });
                buf = '';
                lastFlush = performance.now();
              }
            }
            if (buf && !signal.aborted) await stream.writeSSE({ data: JSON.stringify({ text: buf }) });
            if (!signal.aborted) await stream.writeSSE({ event: 'done', data: JSON.stringify(meta) });
          } catch (err) {
            if (!signal.aborted) {
              const e = toHttpError(err, s.log);
              await stream.writeSSE({ event: 'error', data: JSON.stringify(errorBody(e.code, e.message, e.field)) }).catch(() => {});
            }
          } finally {
            open.delete(abort);
            chars.cancel();
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

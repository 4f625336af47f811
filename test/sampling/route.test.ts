// POST /runs/:id/sample over a real socket with many concurrent streams: 16 SSE streams complete
// with the texts the same seeds give one at a time as JSON, while sharing batched steps; a client
// that disconnects leaves the batch; shutdown ends open streams without a listener warning.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readSse } from '../../functions/client.ts';
import { startServer, type RunningServer } from '../../functions/server.ts';
import { json, sse, tempStore, TINY } from '../functions/helpers.ts';
import { until } from './helpers.ts';

let server: RunningServer;
let store: Awaited<ReturnType<typeof tempStore>>;
const id = 'batched';
const url = (p: string) => `${server.url}${p}`;

const warnings: string[] = [];
const onWarning = (w: Error) => warnings.push(w.name);

beforeAll(async () => {
  process.on('warning', onWarning);
  store = await tempStore();
  server = await startServer({ port: 0, storeUrl: store.url, token: '', log: () => {} });
  expect((await fetch(url('/runs'), json({ corpus: 'names', id, config: TINY }))).status).toBe(201);
  const trained = await fetch(url(`/runs/${id}/train`), json({ steps: 20 }));
  expect(trained.status).toBe(200);
});
afterAll(async () => {
  process.off('warning', onWarning);
  await server?.close();
  await store?.cleanup();
});

/** The text events of one SSE sample joined, and whether it ended with `done`. */
async function streamed(body: object, signal?: AbortSignal): Promise<{ text: string; done: boolean; events: number }> {
  const res = await fetch(url(`/runs/${id}/sample`), { ...sse(body), ...(signal ? { signal } : {}) });
  expect(res.status).toBe(200);
  let text = '';
  let done = false;
  let events = 0;
  for await (const ev of readSse(res)) {
    if (ev.event === 'message') {
      text += JSON.parse(ev.data).text;
      events++;
    } else if (ev.event === 'done') done = true;
    else throw new Error(`unexpected ${ev.event}: ${ev.data}`);
  }
  return { text, done, events };
}

/** The cached BatchSampler of the run's latest checkpoint (what the route uses). */
async function cachedSampler() {
  const lease = await server.app.services.samplers.acquire(id, 'latest');
  lease.release();
  return lease.sampler;
}

describe('batched sampling over HTTP', () => {
  it('16 concurrent SSE streams give the texts each seed gives alone as JSON, in shared steps', async () => {
    // Long enough that the 16 requests overlap: a tiny model samples a few hundred characters in
    // less time than it takes the other requests to arrive.
    const bodies = Array.from({ length: 16 }, (_, i) => ({
      length: 3000 + 50 * i,
      seed: 100 + i,
      temperature: i % 4 === 0 ? 0 : 0.6 + 0.1 * (i % 5),
      topK: i % 3 === 0 ? 4 : 0,
      topP: i % 5 === 1 ? 0.85 : 1,
      prime: i % 2 ? 'Ma' : '',
    }));
    const alone: string[] = [];
    for (const b of bodies) {
      const res = await fetch(url(`/runs/${id}/sample`), json(b));
      expect(res.status).toBe(200);
      alone.push((await res.json()).text);
    }
    const sampler = await cachedSampler();
    const before = { ...sampler.stats };
    const got = await Promise.all(bodies.map((b) => streamed(b)));
    expect(got.map((g) => g.text)).toEqual(alone);
    expect(got.every((g) => g.done && g.events > 1)).toBe(true);
    const steps = sampler.stats.steps - before.steps;
    const rowSteps = sampler.stats.rowSteps - before.rowSteps;
    expect(rowSteps).toBe(bodies.reduce((n, b) => n + Math.max(1, b.prime.length) + b.length - 1, 0));
    // Streams shared steps (each sampling thread batches its share; 1 would be no sharing at all).
    expect(rowSteps / steps).toBeGreaterThan(1.5);
    expect(server.app.services.sampling.active).toBe(0);
    expect(warnings).not.toContain('MaxListenersExceededWarning');
  });

  it('a client that disconnects leaves the batch', async () => {
    const sampler = await cachedSampler();
    const before = sampler.stats.rowSteps;
    const abort = new AbortController();
    const res = await fetch(url(`/runs/${id}/sample`), { ...sse({ length: 20_000, seed: 1 }), signal: abort.signal });
    const events = readSse(res)[Symbol.asyncIterator]();
    await events.next();
    expect(sampler.active).toBe(1);
    abort.abort();
    await until(() => sampler.active === 0 && server.app.services.sampling.active === 0);
    const rowSteps = sampler.stats.rowSteps;
    await new Promise((r) => setTimeout(r, 50));
    expect(sampler.stats.rowSteps).toBe(rowSteps);
    expect(rowSteps - before).toBeLessThan(20_000); // it stopped well before its 20,000 characters
  });
});

describe('shutdown', () => {
  it('ends every open sample stream (no done) and adds no listener per stream', async () => {
    const other = await startServer({ port: 0, storeUrl: store.url, token: '', log: () => {} });
    try {
      const opened = Array.from({ length: 14 }, async (_, i) => {
        const res = await fetch(`${other.url}/runs/${id}/sample`, sse({ length: 20_000, seed: i }));
        const names: string[] = [];
        for await (const ev of readSse(res)) names.push(ev.event);
        return names;
      });
      await until(() => other.app.services.sampling.active === 14);
      const lease = await other.app.services.samplers.acquire(id, 'latest');
      lease.release();
      await until(() => lease.sampler.active === 14);
      await other.close(2000);
      const ended = await Promise.all(opened.map((p) => p.catch(() => ['closed'])));
      expect(ended.every((names) => !names.includes('done'))).toBe(true);
      expect(lease.sampler.active).toBe(0);
      expect(other.app.services.sampling.active).toBe(0);
    } finally {
      await other.close();
    }
    expect(warnings).not.toContain('MaxListenersExceededWarning');
  });
});

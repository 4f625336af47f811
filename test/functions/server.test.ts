// The API over a real socket (startServer on port 0 + fetch): training slices in a worker thread,
// resume, metrics (JSON and followed), streamed and reproducible sampling, concurrency, liveness.
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient, readSse, sseInit } from '../../functions/client.ts';
import { startServer, type RunningServer } from '../../functions/server.ts';
import { openRunStore } from '../../shared/store/index.ts';
import { collectSse, json, sse, tempStore, TINY } from './helpers.ts';

let server: RunningServer;
let store: Awaited<ReturnType<typeof tempStore>>;
const url = (p: string) => `${server.url}${p}`;

beforeAll(async () => {
  store = await tempStore();
  server = await startServer({ port: 0, storeUrl: store.url, token: '', log: () => {} });
});
afterAll(async () => {
  await server?.close();
  await store?.cleanup();
});

describe('create → train → resume → sample', () => {
  const id = 'flow';
  let first: { events: Awaited<ReturnType<typeof collectSse>>; summary: Record<string, number | string | null> };

  it('trains a first slice with SSE progress and a done summary', async () => {
    const created = await fetch(url('/runs'), json({ corpus: 'names', id, config: TINY }));
    expect(created.status).toBe(201);
    const res = await fetch(url(`/runs/${id}/train`), sse({ steps: 30 }));
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/text\/event-stream/);
    const events = await collectSse(res);
    const progress = events.filter((e) => e.event === 'progress').map((e) => JSON.parse(e.data));
    expect(progress.length).toBeGreaterThan(0);
    expect(progress.at(-1)).toMatchObject({ runId: id, step: 30 });
    // Every event says what computes, as /healthz does for the server (the training thread loads the same).
    const { backend, device, blas } = await (await fetch(url('/healthz'))).json();
    for (const p of progress) expect({ backend: p.backend, device: p.device, blas: p.blas }).toEqual({ backend, device, blas });
    expect(progress.some((p) => typeof p.valLoss === 'number')).toBe(true);
    for (const p of progress) expect(p).toHaveProperty('etaSeconds');
    const done = events.at(-1)!;
    expect(done.event).toBe('done');
    const summary = JSON.parse(done.data);
    expect(summary).toMatchObject({ runId: id, step: 30, steps: 30, stopReason: 'steps', checkpointStep: 30 });
    expect(summary.trainLoss).toBeGreaterThan(0);
    first = { events, summary };
    const run = await (await fetch(url(`/runs/${id}`))).json();
    expect(run).toMatchObject({ status: 'idle', step: 30 });
    expect(run.latestValLoss).toBeCloseTo(summary.valLoss, 6);
  });

  it('resumes in a second slice (JSON): step and loss continue', async () => {
    const res = await fetch(url(`/runs/${id}/train`), json({ steps: 30 }));
    expect(res.status).toBe(200);
    const summary = await res.json();
    expect(summary).toMatchObject({ runId: id, step: 60, steps: 30, stopReason: 'steps' });
    expect(typeof summary.trainLoss).toBe('number');

    const { points } = await (await fetch(url(`/runs/${id}/metrics`))).json();
    const steps = points.map((p: { step: number }) => p.step);
    expect(Math.max(...steps)).toBe(60);
    expect(steps.some((s: number) => s <= 30)).toBe(true);
    expect([...steps].sort((a, b) => a - b)).toEqual(steps); // one series, ordered
    const firstLoss = points[0].trainLoss as number;
    const secondSliceFirst = points.find((p: { step: number; trainLoss?: number }) => p.step > 30 && p.trainLoss !== undefined).trainLoss;
    // A resumed model starts where the first slice ended, far below a fresh model's ~ln(V) loss.
    expect(secondSliceFirst).toBeLessThan(firstLoss - 0.3);
    expect(summary.trainLoss).toBeLessThan(first.summary.trainLoss as number);

    const after = await (await fetch(url(`/runs/${id}/metrics?afterStep=30`))).json();
    expect(after.points.every((p: { step: number }) => p.step > 30)).toBe(true);
  });

  it('streams samples incrementally and stops at done', async () => {
    const start = performance.now();
    const res = await fetch(url(`/runs/${id}/sample`), sse({ length: 3000, seed: 7, temperature: 1 }));
    expect(res.status).toBe(200);
    const events = await collectSse(res, start);
    const chunks = events.filter((e) => e.event === 'message');
    expect(chunks.length).toBeGreaterThan(3);
    const text = chunks.map((e) => JSON.parse(e.data).text).join('');
    expect([...text].length).toBe(3000);
    const done = events.at(-1)!;
    expect(done.event).toBe('done');
    expect(JSON.parse(done.data)).toMatchObject({ seed: 7, step: 60, checkpoint: 'latest' });
    // The first characters arrive long before the last.
    expect(chunks[0].at).toBeLessThan(done.at / 2);

    // The same request as JSON gives the same text: same seed, same checkpoint.
    const again = await (await fetch(url(`/runs/${id}/sample`), json({ length: 3000, seed: 7 }))).json();
    expect(again).toMatchObject({ text, seed: 7, step: 60, checkpoint: 'latest' });
  });

  it('is reproducible with a seed, varies without, and primes', async () => {
    const a = await (await fetch(url(`/runs/${id}/sample`), json({ length: 200, seed: 42, prime: 'Ma' }))).json();
    const b = await (await fetch(url(`/runs/${id}/sample`), json({ length: 200, seed: 42, prime: 'Ma' }))).json();
    const c = await (await fetch(url(`/runs/${id}/sample`), json({ length: 200, seed: 43, prime: 'Ma' }))).json();
    expect(a.text).toBe(b.text);
    expect(a.text).not.toBe(c.text);
    expect([...a.text].length).toBe(200);
    const unseeded = await (await fetch(url(`/runs/${id}/sample`), json({ length: 10 }))).json();
    expect(Number.isInteger(unseeded.seed)).toBe(true);
    const byStep = await (await fetch(url(`/runs/${id}/sample`), json({ length: 50, seed: 42, prime: 'Ma', checkpoint: 30 }))).json();
    expect(byStep.step).toBe(30);
    expect(byStep.text).not.toBe(a.text.slice(0, 50));
  });

  it('rejects prime characters outside the vocabulary, naming them', async () => {
    const res = await fetch(url(`/runs/${id}/sample`), json({ prime: 'Ma☃' }));
    expect(res.status).toBe(400);
    const { error } = await res.json();
    expect(error.field).toBe('prime');
    expect(error.message).toContain('☃');
  });

  it('stops generating when the client disconnects', async () => {
    const abort = new AbortController();
    const res = await fetch(url(`/runs/${id}/sample`), { ...sse({ length: 20000 }), signal: abort.signal });
    const it = readSse(res)[Symbol.asyncIterator]();
    await it.next();
    expect(server.app.services.sampling.active).toBe(1);
    abort.abort();
    const t0 = Date.now();
    while (server.app.services.sampling.active > 0 && Date.now() - t0 < 3000) await new Promise((r) => setTimeout(r, 20));
    expect(server.app.services.sampling.active).toBe(0);
  });

  it('the typed client speaks the same API', async () => {
    const client = createClient(server.url);
    const res = await client.runs[':id'].$get({ param: { id } });
    expect(res.status).toBe(200);
    if (res.status === 200) expect((await res.json()).step).toBe(60);
    const stream = await client.runs[':id'].sample.$post({ param: { id }, json: { length: 20, seed: 1 } }, sseInit());
    const events = [];
    for await (const ev of readSse(stream)) events.push(ev);
    expect(events.at(-1)?.event).toBe('done');
  });
});

describe('while a slice trains', () => {
  const id = 'busy';

  const waitForStatus = async (base: string, id: string, status: string) => {
    const t0 = Date.now();
    while ((await (await fetch(`${base}/runs/${id}`)).json()).status !== status) {
      if (Date.now() - t0 > 15_000) throw new Error(`run ${id} never became ${status}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };

  it('keeps /healthz fast, refuses a second slice (409) and deletion, then frees the run', async () => {
    const id = 'busy';
    // Big enough that one step takes about as long as the /healthz budget: a trainer on the
    // server's own thread could not keep /healthz under 100 ms, the worker thread can.
    const config = { hidden: 384, seqLen: 64, batchSize: 32, evalEvery: 1000, evalChars: 2000 };
    await fetch(url('/runs'), json({ corpus: 'names', id, config }));
    const training = fetch(url(`/runs/${id}/train`), sse({ maxSeconds: 3, checkpointSeconds: 100 })).then((r) => collectSse(r));
    await waitForStatus(server.url, id, 'training');

    const conflict = await fetch(url(`/runs/${id}/train`), json({ steps: 5 }));
    expect(conflict.status).toBe(409);
    expect((await conflict.json()).error.code).toBe('training_in_progress');
    const del = await fetch(url(`/runs/${id}`), { method: 'DELETE' });
    expect(del.status).toBe(409);

    const latencies: number[] = [];
    for (let i = 0; i < 5; i++) {
      const s = performance.now();
      const h = await fetch(url('/healthz'));
      latencies.push(performance.now() - s);
      expect(h.status).toBe(200);
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(Math.max(...latencies)).toBeLessThan(100);

    const events = await training;
    const done = JSON.parse(events.at(-1)!.data);
    expect(events.at(-1)!.event).toBe('done');
    expect(done.stopReason).toBe('seconds');
    expect(done.seconds).toBeGreaterThanOrEqual(2.5);
    expect((done.seconds * 1000) / done.steps).toBeGreaterThan(50); // ms per step: the premise above
    const run = await (await fetch(url(`/runs/${id}`))).json();
    expect(run.status).toBe('idle');
    expect(run.step).toBe(done.step);
    // The lease is released: the next slice starts at once.
    const next = await fetch(url(`/runs/${id}/train`), json({ steps: 1 }));
    expect(next.status).toBe(200);
    expect((await next.json()).step).toBe(done.step + 1);
  });

  it('tails metrics as SSE while the slice flushes them at each checkpoint', async () => {
    const id = 'tailed';
    await fetch(url('/runs'), json({ corpus: 'names', id, config: TINY }));
    const training = fetch(url(`/runs/${id}/train`), json({ maxSeconds: 4, checkpointSeconds: 0.3 })).then((r) => r.json());
    await waitForStatus(server.url, id, 'training');

    const abort = new AbortController();
    const follow = await fetch(url(`/runs/${id}/metrics?follow=1`), { signal: abort.signal });
    expect(follow.headers.get('content-type')).toMatch(/text\/event-stream/);
    const seen: { step: number; time: number; key: string }[] = [];
    const reader = (async () => {
      try {
        for await (const ev of readSse(follow)) {
          if (ev.event === 'point') seen.push({ step: JSON.parse(ev.data).step, time: Date.now(), key: ev.data });
        }
      } catch {
        // aborted
      }
    })();
    const summary = await training;
    const endedAt = Date.now();
    while (seen.at(-1)?.step !== summary.step && Date.now() - endedAt < 8000) await new Promise((r) => setTimeout(r, 50));
    abort.abort();
    await reader;
    const steps = seen.map((p) => p.step);
    expect(steps.length).toBeGreaterThanOrEqual(3);
    expect([...steps].sort((a, b) => a - b)).toEqual(steps);
    expect(new Set(seen.map((p) => p.key)).size).toBe(seen.length); // each point once
    expect(steps.at(-1)).toBe(summary.step);
    // Exactly the stored series, nothing skipped.
    const { points } = await (await fetch(url(`/runs/${id}/metrics`))).json();
    expect(seen.map((p) => JSON.parse(p.key))).toEqual(points);
    // Points arrived while the slice ran, not only at its end.
    expect(seen.filter((p) => p.time < endedAt - 500).length).toBeGreaterThan(0);
  });

  it('stores the loss of the last steps even when the last checkpoint falls on the final step', async () => {
    // A checkpoint after every step, while loss reports come every 250 ms: the slice's final steps
    // are reported only at its end, and their point must still reach the store.
    const id = 'last-steps';
    await fetch(url('/runs'), json({ corpus: 'names', id, config: TINY }));
    const done = await (await fetch(url(`/runs/${id}/train`), json({ steps: 35, checkpointSeconds: 0.001 }))).json();
    expect(done.step).toBe(35);
    const { points } = await (await fetch(url(`/runs/${id}/metrics`))).json();
    const trained = points.filter((p: { trainLoss?: number }) => p.trainLoss !== undefined);
    expect(trained.at(-1).step).toBe(35);
    expect((await (await fetch(url(`/runs/${id}`))).json()).step).toBe(35);
  });

  it('a client that disconnects does not stop the slice', async () => {
    const run = 'detached';
    await fetch(url('/runs'), json({ corpus: 'names', id: run, config: TINY }));
    const abort = new AbortController();
    const res = await fetch(url(`/runs/${run}/train`), { ...sse({ steps: 40 }), signal: abort.signal });
    const it = readSse(res)[Symbol.asyncIterator]();
    await it.next(); // first progress event
    abort.abort();
    const t0 = Date.now();
    let step = 0;
    while (Date.now() - t0 < 20_000) {
      const r = await (await fetch(url(`/runs/${run}`))).json();
      step = r.step;
      if (r.status === 'idle' && step === 40) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(step).toBe(40);
  });
});

describe('divergence and limits', () => {
  it('stops a diverging slice, keeps the last good checkpoint and reports diverged', async () => {
    const id = 'unstable';
    const config = { ...TINY, lr: 0.5, gradClip: 0, divergenceFactor: 1.2 };
    expect((await fetch(url('/runs'), json({ corpus: 'names', id, config }))).status).toBe(201);
    const res = await fetch(url(`/runs/${id}/train`), json({ steps: 60, checkpointSeconds: 0.001 }));
    expect(res.status).toBe(200);
    const summary = await res.json();
    expect(summary.stopReason).toBe('diverged');
    expect(summary.steps).toBeLessThan(60);
    expect(summary.checkpointStep).toBeGreaterThan(0);
    const run = await (await fetch(url(`/runs/${id}`))).json();
    expect(run).toMatchObject({ status: 'idle', step: summary.checkpointStep });
    const { points } = await (await fetch(url(`/runs/${id}/metrics`))).json();
    expect(points.every((p: { step: number; trainLoss?: number }) => p.step <= summary.checkpointStep && (p.trainLoss === undefined || Number.isFinite(p.trainLoss)))).toBe(true);
    const sample = await fetch(url(`/runs/${id}/sample`), json({ length: 20, seed: 1 }));
    expect(sample.status).toBe(200);
    expect((await sample.json()).step).toBe(summary.checkpointStep);
  });

  it('applies the default budget when none is given, and caps maxSeconds and steps by the limits', async () => {
    const limits = { ...server.app.services.limits, defaultSliceSeconds: 1, maxSliceSeconds: 1.5, maxStepsPerSlice: 1000 };
    const limited = await startServer({ port: 0, storeUrl: store.url, token: '', log: () => {}, limits });
    try {
      await fetch(`${limited.url}/runs`, json({ corpus: 'names', id: 'budgets', config: TINY }));
      // No body at all: the default slice budget.
      const dflt = await (await fetch(`${limited.url}/runs/budgets/train`, { method: 'POST' })).json();
      expect(dflt.stopReason).toBe('seconds');
      expect(dflt.seconds).toBeGreaterThanOrEqual(0.9);
      expect(dflt.seconds).toBeLessThan(1.5);
      const capped = await (await fetch(`${limited.url}/runs/budgets/train`, json({ maxSeconds: 600 }))).json();
      expect(capped.stopReason).toBe('seconds');
      expect(capped.seconds).toBeLessThan(2.2);
      const tooMany = await fetch(`${limited.url}/runs/budgets/train`, json({ steps: 1001 }));
      expect(tooMany.status).toBe(400);
      expect((await tooMany.json()).error.field).toBe('steps');
    } finally {
      await limited.close();
    }
  });

  it('answers 429 beyond the concurrent sample stream limit', async () => {
    const limited = await startServer({ port: 0, storeUrl: store.url, token: '', log: () => {}, limits: { ...server.app.services.limits, maxSampleStreams: 1 } });
    try {
      const abort = new AbortController();
      const first = await fetch(`${limited.url}/runs/flow/sample`, { ...sse({ length: 20000 }), signal: abort.signal });
      const it = readSse(first)[Symbol.asyncIterator]();
      await it.next();
      const second = await fetch(`${limited.url}/runs/flow/sample`, json({ length: 10 }));
      expect(second.status).toBe(429);
      expect((await second.json()).error.code).toBe('too_many_streams');
      abort.abort();
      const t0 = Date.now();
      while (limited.app.services.sampling.active > 0 && Date.now() - t0 < 3000) await new Promise((r) => setTimeout(r, 20));
      expect((await fetch(`${limited.url}/runs/flow/sample`, json({ length: 10 }))).status).toBe(200);
    } finally {
      await limited.close();
    }
  });
});

describe('a slice that fails', () => {
  it('marks the run failed, answers 500 training_failed (JSON) or an error event (SSE), and frees the lease', async () => {
    const id = 'broken';
    await fetch(url('/runs'), json({ corpus: 'names', id, config: TINY }));
    expect((await fetch(url(`/runs/${id}/train`), json({ steps: 3 }))).status).toBe(200);
    // Damage the checkpoint the next slice resumes from.
    const weights = path.join(store.dir, 'runs', id, 'checkpoints', '0000000003', 'weights.bin');
    await writeFile(weights, new Uint8Array(7));

    const res = await fetch(url(`/runs/${id}/train`), json({ steps: 3 }));
    expect(res.status).toBe(500);
    const { error } = await res.json();
    expect(error.code).toBe('training_failed');
    expect(error.message).not.toMatch(/\n|    at /);
    const run = await (await fetch(url(`/runs/${id}`))).json();
    expect(run.status).toBe('failed');
    expect(run.error).toMatch(/training failed/);
    expect(run.step).toBe(3);

    const events = await collectSse(await fetch(url(`/runs/${id}/train`), sse({ steps: 3 })));
    expect(events.at(-1)!.event).toBe('error');
    expect(JSON.parse(events.at(-1)!.data).error.code).toBe('training_failed');

    const sample = await fetch(url(`/runs/${id}/sample`), json({ length: 5 }));
    expect(sample.status).toBe(500);
    expect((await sample.json()).error.code).toBe('checkpoint_unreadable');
  });
});

describe('two instances on one store', () => {
  it('the lease is renewed while a slice runs: the other instance gets 409 past the lease lifetime', async () => {
    const shortLease = { ...server.app.services.limits, leaseSeconds: 0.6 };
    const a = await startServer({ port: 0, storeUrl: store.url, token: '', log: () => {}, limits: shortLease });
    const b = await startServer({ port: 0, storeUrl: store.url, token: '', log: () => {}, limits: shortLease });
    try {
      const id = 'shared';
      await fetch(`${a.url}/runs`, json({ corpus: 'names', id, config: TINY }));
      const slice = fetch(`${a.url}/runs/${id}/train`, json({ maxSeconds: 2.5 })).then((r) => r.json());
      const t0 = Date.now();
      while ((await (await fetch(`${b.url}/runs/${id}`)).json()).status !== 'training') {
        if (Date.now() - t0 > 10_000) throw new Error('slice did not start');
        await new Promise((r) => setTimeout(r, 50));
      }
      // Well past the 0.6 s lifetime of the first lease: only renewal keeps it.
      await new Promise((r) => setTimeout(r, 1500));
      const other = await fetch(`${b.url}/runs/${id}/train`, json({ steps: 1 }));
      expect(other.status).toBe(409);
      expect((await other.json()).error.code).toBe('training_in_progress');
      const summary = await slice;
      expect(summary.stopReason).toBe('seconds');
      // Released at the end: the other instance continues the run.
      const next = await fetch(`${b.url}/runs/${id}/train`, json({ steps: 1 }));
      expect(next.status).toBe(200);
      expect((await next.json()).step).toBe(summary.step + 1);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  it('a slice whose lease was taken over stops without writing a checkpoint (409 lease_lost)', async () => {
    const a = await startServer({ port: 0, storeUrl: store.url, token: '', log: () => {}, limits: { ...server.app.services.limits, leaseSeconds: 0.6 } });
    try {
      const id = 'stolen';
      await fetch(`${a.url}/runs`, json({ corpus: 'names', id, config: TINY }));
      const slice = fetch(`${a.url}/runs/${id}/train`, json({ maxSeconds: 30, checkpointSeconds: 100 }));
      const runs = openRunStore(store.url);
      const t0 = Date.now();
      while (!(await runs.readLease(id))) {
        if (Date.now() - t0 > 10_000) throw new Error('slice did not start');
        await new Promise((r) => setTimeout(r, 20));
      }
      // Another trainer takes the run (as after a network partition): delete and re-acquire.
      await runs.objects.delete(`runs/${id}/lease.json`);
      await runs.acquireLease(id, 'someone-else', 60_000);
      const stolenAt = Date.now();
      const res = await slice;
      expect(res.status).toBe(409);
      expect((await res.json()).error.code).toBe('lease_lost');
      // Stopped at the next renewal (every 0.2 s at a 0.6 s lease) once the training thread is up,
      // not at maxSeconds (30 s). The bound leaves room for a loaded machine (its tfjs load).
      expect(Date.now() - stolenAt).toBeLessThan(10_000);
      expect((await runs.getRun(id))?.step).toBe(0); // no checkpoint from the loser
      expect(await runs.loadCheckpoint(id, 'latest')).toBeNull();
      expect((await runs.readLease(id))?.holder).toBe('someone-else');
    } finally {
      await a.close();
    }
  });
});

describe('keep-alive', () => {
  it('keeps an idle socket open longer than clients do (Node closes at 5 s by default), so a reused socket is never closed under a request', async () => {
    const { request, Agent } = await import('node:http');
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const get = () =>
      new Promise<number>((resolve, reject) => {
        const req = request(url('/healthz'), { agent }, (res) => {
          res.resume();
          res.on('end', () => resolve(req.socket!.localPort!));
        });
        req.on('error', reject);
        req.end();
      });
    try {
      const first = await get();
      await new Promise((r) => setTimeout(r, 6000));
      expect(await get()).toBe(first); // the same socket: the server did not close it
    } finally {
      agent.destroy();
    }
  });
  it('a request answered before its body is read (413, 401) closes its connection, so a keep-alive client never reuses a socket the server drops', async () => {
    const { request, Agent } = await import('node:http');
    const { readLimits } = await import('../../functions/settings.ts');
    const small = await startServer({ port: 0, storeUrl: store.url, token: 'secret', limits: readLimits({}, { maxBodyBytes: 1024 }), log: () => {} });
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const send = (method: string, p: string, body: string, auth = true) =>
      new Promise<{ status: number; connection: string | undefined; port: number }>((resolve, reject) => {
        const headers = { 'content-type': 'application/json', ...(auth ? { authorization: 'Bearer secret' } : {}) };
        const req = request(small.url + p, { method, agent, headers }, (res) => {
          res.resume();
          res.on('end', () => resolve({ status: res.statusCode!, connection: res.headers.connection, port: req.socket!.localPort! }));
        });
        req.on('error', reject);
        req.end(body);
      });
    try {
      const ok = await send('GET', '/healthz', '');
      expect(ok).toMatchObject({ status: 200, connection: 'keep-alive' });
      const tooBig = await send('POST', '/runs', JSON.stringify({ corpus: 'x'.repeat(200_000) }));
      expect(tooBig).toMatchObject({ status: 413, connection: 'close' });
      const unauthorised = await send('POST', '/runs', JSON.stringify({ corpus: 'x'.repeat(900) }), false);
      expect(unauthorised).toMatchObject({ status: 401, connection: 'close' });
      // A request whose body was read keeps its socket: a 400 from validation is not a reason to close.
      const invalid = await send('POST', '/runs', JSON.stringify({ corpus: 5 }));
      expect(invalid).toMatchObject({ status: 400, connection: 'keep-alive' });
      const again = await send('GET', '/healthz', '');
      expect(again).toMatchObject({ status: 200, port: invalid.port });
    } finally {
      agent.destroy();
      await small.close();
    }
  });
});


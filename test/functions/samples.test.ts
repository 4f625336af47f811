// Samples while training, through the API over a real socket: progress events carry them, the
// metrics keep them (read and followed), each is what POST /sample gives from that step's
// checkpoint, and a run's checkpoints are the same bits with sampling on or off and when trained in
// two slices. A prime outside the vocabulary is a 400 at run creation and at slice start.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readSse, sseInit } from '../../functions/client.ts';
import { readLimits } from '../../functions/settings.ts';
import { startServer, type RunningServer } from '../../functions/server.ts';
import type { MetricPoint, Run, TrainProgress } from '../../shared/api/schemas.ts';
import { openRunStore, type RunStore } from '../../shared/store/index.ts';
import { collectSse, json, sse, TINY, useTempStore } from './helpers.ts';

const temp = useTempStore();
let server: RunningServer;
let store: RunStore;
const url = (p: string) => `${server.url}${p}`;

beforeAll(async () => {
  server = await startServer({ port: 0, storeUrl: temp.url, token: '', log: () => {} });
  store = openRunStore(temp.url);
});
afterAll(async () => {
  await server?.close();
});

async function create(id: string, config: Record<string, unknown> = {}): Promise<Response> {
  return fetch(url('/runs'), json({ corpus: 'names', id, config: { ...TINY, ...config } }));
}

async function train(id: string, steps: number): Promise<TrainProgress[]> {
  const events = await collectSse(await fetch(url(`/runs/${id}/train`), sse({ steps })));
  expect(events.at(-1)?.event, events.at(-1)?.data).toBe('done');
  return events.filter((e) => e.event === 'progress').map((e) => JSON.parse(e.data) as TrainProgress);
}

async function latestFiles(id: string) {
  const ck = await store.loadCheckpoint(id, 'latest');
  return ck!.files as Record<'weights.bin' | 'optimizer.bin' | 'state.json', Uint8Array>;
}
const lossTail = (f: { 'state.json': Uint8Array }) => JSON.parse(Buffer.from(f['state.json']).toString()).lossTail;
const sameBytes = (a: Uint8Array, b: Uint8Array) => Buffer.from(a).equals(Buffer.from(b));

describe('samples while training', () => {
  it('come with progress, stay in the metrics (read and followed), match POST /sample, and change no checkpoint bit', async () => {
    expect((await create('on', { samplePrime: 'Ma' })).status).toBe(201);
    expect((await create('off', { sampleEvery: 0 })).status).toBe(201);
    expect((await create('split', { samplePrime: 'Ma' })).status).toBe(201);
    const run = (await (await fetch(url('/runs/on'))).json()) as Run;
    expect(run.sample).toEqual({ every: null, length: 200, seed: 1, temperature: 0.8, prime: 'Ma' });

    // A client tailing the run while it trains.
    const followed: MetricPoint[] = [];
    const following = (async () => {
      const res = await fetch(url('/runs/on/metrics?follow=1'), sseInit());
      for await (const ev of readSse(res)) {
        const p = JSON.parse(ev.data) as MetricPoint;
        followed.push(p);
        if (p.sample?.step === 30) break;
      }
    })();

    const on = await train('on', 30);
    const off = await train('off', 30);
    // TINY validates every 10 steps: each validation's event carries the sample of its step.
    const validated = on.filter((p) => p.valLoss !== undefined);
    expect(validated.map((p) => p.step)).toEqual([10, 20, 30]);
    expect(on.filter((p) => p.sample).map((p) => p.step)).toEqual([10, 20, 30]);
    for (const p of validated) {
      expect(p.sample!.step).toBe(p.step);
      expect([...p.sample!.text]).toHaveLength(200);
    }
    expect(off.some((p) => p.sample)).toBe(false);
    expect(off.filter((p) => p.valLoss !== undefined).map((p) => p.valLoss)).toEqual(validated.map((p) => p.valLoss));

    // Same bits with sampling off: weights, Adam moments and every step's loss (state.json's tail).
    const [fOn, fOff] = [await latestFiles('on'), await latestFiles('off')];
    expect(sameBytes(fOn['weights.bin'], fOff['weights.bin'])).toBe(true);
    expect(sameBytes(fOn['optimizer.bin'], fOff['optimizer.bin'])).toBe(true);
    expect(lossTail(fOn)).toHaveLength(30);
    expect(lossTail(fOn)).toEqual(lossTail(fOff));

    // The step-30 sample is the text POST /sample gives from the step-30 checkpoint with the run's settings.
    const res = await fetch(url('/runs/on/sample'), json({ length: 200, temperature: 0.8, seed: 1, prime: 'Ma', checkpoint: 30 }));
    expect(res.status).toBe(200);
    expect((await res.json()).text).toBe(validated.at(-1)!.sample!.text);

    const { points } = (await (await fetch(url('/runs/on/metrics'))).json()) as { points: MetricPoint[] };
    expect(points.filter((p) => p.sample).map((p) => p.sample)).toEqual(validated.map((p) => p.sample));
    await following;
    expect(followed.filter((p) => p.sample).map((p) => p.sample)).toEqual(validated.map((p) => p.sample));

    // Exact resume holds with samples on: 12 + 18 steps in two slices = the 30 above.
    await train('split', 12);
    await train('split', 18);
    const fSplit = await latestFiles('split');
    expect(sameBytes(fSplit['weights.bin'], fOn['weights.bin'])).toBe(true);
    expect(sameBytes(fSplit['optimizer.bin'], fOn['optimizer.bin'])).toBe(true);
    expect(lossTail(fSplit)).toEqual(lossTail(fOn));
  });

  it('refuse a prime outside the vocabulary at run creation and at slice start, and a length over the limit', async () => {
    const bad = await create('bad-prime', { samplePrime: 'Ma☃' });
    expect(bad.status).toBe(400);
    expect((await bad.json()).error).toMatchObject({ code: 'invalid_input', field: 'config.samplePrime', message: expect.stringContaining('"☃"') });
    const long = await create('too-long', { sampleLength: 50_000 });
    expect(long.status).toBe(400);
    expect((await long.json()).error).toMatchObject({ code: 'limit_exceeded', field: 'config.sampleLength' });
    const negative = await create('negative', { sampleEvery: -1 });
    expect(negative.status).toBe(400);
    expect((await negative.json()).error.field).toBe('config.sampleEvery');
    expect((await fetch(url('/runs/bad-prime'))).status).toBe(404);
    // Without a length, a server whose limit is below the default takes its limit instead.
    const small = await startServer({ port: 0, storeUrl: temp.url, token: '', limits: readLimits({}, { maxSampleLength: 64 }), log: () => {} });
    try {
      const created = await fetch(`${small.url}/runs`, json({ corpus: 'names', id: 'capped', config: TINY }));
      expect(created.status).toBe(201);
      expect((await created.json()).sample.length).toBe(64);
    } finally {
      await small.close();
    }

    // A record whose prime no longer fits (edited, or a feed that changed before the first slice).
    expect((await create('edited')).status).toBe(201);
    const stored = (await store.getRun('edited'))!;
    await store.updateRun('edited', { sample: { ...stored.sample, prime: '☃' } });
    const refused = await fetch(url('/runs/edited/train'), sse({ steps: 2 }));
    expect(refused.status).toBe(400);
    expect((await refused.json()).error).toMatchObject({ field: 'config.samplePrime', message: expect.stringContaining('"☃"') });
    // Nothing started: the lease is free and the run idle.
    expect(await store.readLease('edited')).toBeNull();
    expect((await (await fetch(url('/runs/edited'))).json()).status).toBe('idle');
  });
});

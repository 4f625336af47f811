// SamplingPool: streams run in sampling threads give exactly the text Sampler gives on this thread,
// spread over both threads; cancel stops a stream in its thread; a thread that dies fails its
// streams with a 500 and is replaced, and the replacement serves the same checkpoint.
import type { Worker } from 'node:worker_threads';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HttpError } from '../../functions/errors.ts';
import { SamplingPool, type LoadedSampler, type TextStream } from '../../functions/sampling/pool.ts';
import {
  EngineInputError, initBackend, loadBuiltinCorpus, resolveConfig, Trainer, type CheckpointFiles, type SampleOptions,
} from '../../shared/engine/index.ts';
import { Sampler } from '../engine/sampler.ts';
import { read, until } from './helpers.ts';

const options = (o: Partial<SampleOptions>): SampleOptions => ({ length: 150, temperature: 1, topK: 0, topP: 1, prime: '', seed: 1, ...o });
const VARIED = [
  options({ seed: 1 }),
  options({ seed: 2, temperature: 0, prime: 'Mar' }),
  options({ seed: 3, topK: 3, length: 90 }),
  options({ seed: 4, topP: 0.7, temperature: 0.8, prime: 'An' }),
  options({ seed: 5, temperature: 1.6, topK: 10, topP: 0.9, length: 200 }),
  options({ seed: 6, temperature: 0.5, prime: 'Elizabeth\nJo', length: 60 }),
];



/** The pool's live worker threads (private: reached here to count use and to kill one). */
const threadsOf = (pool: SamplingPool) => (pool as unknown as { threads: { worker: Worker; stats: Map<string, unknown> }[] }).threads;

let ck: CheckpointFiles;
let expected: string[];
let pool: SamplingPool;
let sampler: LoadedSampler;
const logged: string[] = [];

beforeAll(async () => {
  expect(await initBackend('wasm')).toBe('wasm');
  const t = await Trainer.create({ text: loadBuiltinCorpus('names'), ...resolveConfig({ hidden: 32, batchSize: 16, seqLen: 32, lr: 0.01, evalEvery: 10_000, evalChars: 200 }) });
  for await (const e of t.run({ steps: 25 })) void e;
  ck = await t.checkpoint();
  t.dispose();
  const single = await Sampler.load(ck);
  expected = [];
  for (const o of VARIED) {
    let text = '';
    for await (const c of single.generate(o)) text += c;
    expected.push(text);
  }
  single.dispose();
  pool = new SamplingPool(2, (m) => logged.push(m));
  sampler = await pool.load('run@25', ck);
});
afterAll(() => {
  sampler?.dispose();
  pool?.close();
});

describe('SamplingPool', () => {
  it('streams in two threads give exactly the texts Sampler gives here', async () => {
    const got = await Promise.all(VARIED.map((o) => read(sampler.open(o))));
    expect(got).toEqual(expected);
    expect(sampler.active).toBe(0);
    // Every stream step was counted, and both threads took streams.
    const want = VARIED.reduce((n, o) => n + Math.max(1, [...o.prime].length) + o.length - 1, 0);
    expect(sampler.stats.rowSteps).toBe(want);
    expect(threadsOf(pool).every((t) => t.stats.size === 1)).toBe(true);
  });

  it('reads a checkpoint on this thread first: a corrupt one throws here', () => {
    expect(() => pool.load('bad@1', { ...ck, 'weights.bin': new Uint8Array(7) })).toThrow(EngineInputError);
  });

  it('rejects a prime outside the vocabulary before sending anything', () => {
    expect(() => sampler.open(options({ prime: 'Ma☃' }))).toThrow(/"☃"/);
    expect(sampler.active).toBe(0);
  });

  it('cancel stops the stream in its thread', async () => {
    const abort = new AbortController();
    const stream = sampler.open(options({ length: 20_000, seed: 9, signal: abort.signal }));
    const it = stream[Symbol.asyncIterator]();
    const first = (await it.next()).value as string;
    abort.abort();
    expect((await it.next()).done).toBe(true);
    await until(() => sampler.active === 0);
    const rowSteps = sampler.stats.rowSteps;
    await new Promise((r) => setTimeout(r, 50));
    expect(sampler.stats.rowSteps).toBe(rowSteps);
    expect(first.length).toBeGreaterThan(0);
  });

  it('a thread that dies fails its streams with a 500 and is replaced', async () => {
    const streams = [0, 1].map((i) => sampler.open(options({ length: 20_000, seed: i })));
    const results = streams.map((s) => read(s).then(() => null, (e: unknown) => e));
    await until(() => sampler.stats.rowSteps > 0);
    const dead = threadsOf(pool)[0].worker;
    await dead.terminate();
    const failed = (await Promise.race(results)) as HttpError;
    expect(failed).toBeInstanceOf(HttpError);
    expect([failed.status, failed.code]).toEqual([500, 'sampling_failed']);
    streams.forEach((s) => s.cancel());
    await Promise.all(results);
    await until(() => sampler.active === 0 && threadsOf(pool).length === 2);
    expect(threadsOf(pool)).not.toContainEqual(expect.objectContaining({ worker: dead }));
    expect(logged.join('\n')).toMatch(/sampling thread exited/);
    // The replacement reloaded the checkpoint: two streams (one per thread) give Sampler's texts again.
    expect(await Promise.all(VARIED.slice(0, 2).map((o) => read(sampler.open(o))))).toEqual(expected.slice(0, 2));
  });
});

// BatchSampler: streams stepped together give exactly the text each gives alone through
// Sampler.generate (LSTM one-hot and GRU embedding models), whatever joins or leaves mid-way;
// cancelled streams stop taking steps; the loop leaves the event loop free between turns.
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  BatchSampler, EngineInputError, initBackend,
  type CheckpointFiles, type SampleOptions, type SampleStream,
} from '../../shared/engine/index.ts';
import { Sampler } from '../engine/sampler.ts';
import { trainedOnNames } from '../engine/helpers.ts';
import type { RunConfigInput } from '../../shared/api/schemas.ts';
import { read, until } from './helpers.ts';

const options = (o: Partial<SampleOptions>): SampleOptions => ({ length: 120, temperature: 1, topK: 0, topP: 1, prime: '', seed: 1, ...o });

/** Eight streams that differ in every option, including argmax, top-k, top-p, primes and lengths. */
const VARIED: SampleOptions[] = [
  options({ seed: 1 }),
  options({ seed: 2, temperature: 0, prime: 'Mar' }),
  options({ seed: 3, topK: 3, length: 90 }),
  options({ seed: 4, topP: 0.7, temperature: 0.8, prime: 'An' }),
  options({ seed: 5, temperature: 1.6, topK: 10, topP: 0.9, length: 150 }),
  options({ seed: 6, temperature: 0.5, prime: 'Elizabeth\nJo', length: 60 }),
  options({ seed: 7, temperature: 0, length: 1 }),
  options({ seed: 1, temperature: 0.3, topK: 1, length: 200 }),
];

async function alone(s: Sampler, o: SampleOptions): Promise<string> {
  let out = '';
  for await (const c of s.generate(o)) out += c;
  return out;
}



beforeAll(async () => {
  expect(await initBackend('wasm')).toBe('wasm');
});

describe.each([
  ['LSTM 1×32 one-hot', { hidden: 32 } as RunConfigInput],
  ['GRU 2×24 embedding', { cell: 'gru', layers: 2, hidden: 24, embedding: 8 } as RunConfigInput],
])('BatchSampler (%s)', (_name, cfg) => {
  let single: Sampler;
  let batch: BatchSampler;
  let expected: string[];

  beforeAll(async () => {
    const ck = await trainedOnNames(cfg, 25);
    single = await Sampler.load(ck);
    batch = await BatchSampler.load(ck);
    expected = [];
    for (const o of VARIED) expected.push(await alone(single, o));
  });
  afterAll(() => {
    single.dispose();
    batch.dispose();
  });

  it('streams stepped together produce exactly their single-stream texts', async () => {
    const before = { ...batch.stats };
    const got = await Promise.all(VARIED.map((o) => read(batch.open(o))));
    expect(got).toEqual(expected);
    expect(got.map((t) => [...t].length)).toEqual(VARIED.map((o) => o.length));
    // They really shared steps: fewer batched steps than stream steps.
    const steps = batch.stats.steps - before.steps;
    const rowSteps = batch.stats.rowSteps - before.rowSteps;
    const want = VARIED.reduce((n, o) => n + Math.max(1, [...o.prime].length) + o.length - 1, 0);
    expect(rowSteps).toBe(want);
    expect(steps).toBeLessThan(want / 4);
    expect(batch.active).toBe(0);
  });

  it('streams joining mid-way and leaving early do not change the others', async () => {
    const long = batch.open(VARIED[7]);
    const it = long[Symbol.asyncIterator]();
    let longText = '';
    while ([...longText].length < 40) longText += (await it.next()).value;
    // Two join while the first is 40+ characters in; one of them leaves after its first chunk.
    const joined = batch.open(VARIED[1]);
    const leaver = batch.open(VARIED[4]);
    let leaverText = '';
    for await (const c of leaver) {
      leaverText += c;
      break;
    }
    const late = batch.open(VARIED[5]);
    const rest = Promise.all([joined, late].map(read));
    for (let r = await it.next(); !r.done; r = await it.next()) longText += r.value;
    expect(longText).toBe(expected[7]);
    expect(await rest).toEqual([expected[1], expected[5]]);
    expect(leaverText.length).toBeGreaterThan(0);
    expect(expected[4].startsWith(leaverText)).toBe(true);
    expect(leaver.steps).toBeLessThan(VARIED[4].length);
    expect(batch.active).toBe(0);
  });

  it('a stream whose signal aborts stops taking steps at the next one', async () => {
    const abort = new AbortController();
    const gone = batch.open(options({ length: 5000, seed: 9, signal: abort.signal }));
    const stays = batch.open(options({ length: 300, seed: 10, prime: 'Jo' }));
    const before = batch.stats.rowSteps;
    const goneText = read(gone);
    await until(() => gone.steps >= 20);
    abort.abort();
    const stepsAtAbort = gone.steps;
    expect(await read(stays)).toBe(await alone(single, options({ length: 300, seed: 10, prime: 'Jo' })));
    // Its reader ends quietly with what it had read: a prefix of the stream's own text.
    const got = await goneText;
    expect([...got].length).toBeGreaterThan(0);
    expect([...got].length).toBeLessThanOrEqual(stepsAtAbort);
    expect(await alone(single, options({ length: [...got].length, seed: 9 }))).toBe(got);
    expect(gone.steps).toBeLessThanOrEqual(stepsAtAbort + 1);
    expect(stays.steps).toBe(2 + 300 - 1);
    expect(batch.stats.rowSteps - before).toBe(gone.steps + stays.steps);
    expect(batch.active).toBe(0);
  });
});

describe('BatchSampler edges', () => {
  let ck: CheckpointFiles;
  beforeAll(async () => {
    ck = await trainedOnNames({ hidden: 16 }, 5);
  });

  it('rejects bad options when the stream opens, with the field named', async () => {
    const b = await BatchSampler.load(ck);
    try {
      expect(() => b.open(options({ prime: 'Ma☃' }))).toThrow(EngineInputError);
      expect(() => b.open(options({ prime: 'Ma☃' }))).toThrow(/"☃"/);
      expect(() => b.open(options({ topP: 0 }))).toThrow(/topP/);
      expect(() => b.open(options({ length: -1 }))).toThrow(/length/);
      expect(b.active).toBe(0);
      expect(await read(b.open(options({ length: 0 })))).toBe('');
      const aborted = AbortSignal.abort();
      expect(await read(b.open(options({ signal: aborted })))).toBe('');
      expect(b.stats.steps).toBe(0);
    } finally {
      b.dispose();
    }
  });

  it('dispose ends open streams and refuses new ones', async () => {
    const b = await BatchSampler.load(ck);
    const s = b.open(options({ length: 100_000 }));
    const text = read(s);
    await until(() => s.steps > 5);
    b.dispose();
    await text;
    expect(s.running).toBe(false);
    expect(() => b.open(options({}))).toThrow(/disposed/);
  });

  it('32 streams leave the event loop free between batched steps', async () => {
    const b = await BatchSampler.load(ck);
    const delay = monitorEventLoopDelay({ resolution: 5 });
    let ticks = 0;
    const timer = setInterval(() => ticks++, 5);
    delay.enable();
    try {
      const texts = await Promise.all(Array.from({ length: 32 }, (_, i) => read(b.open(options({ length: 1500, seed: i })))));
      expect(texts.every((t) => [...t].length === 1500)).toBe(true);
    } finally {
      delay.disable();
      clearInterval(timer);
      b.dispose();
    }
    expect(ticks).toBeGreaterThan(5);
    // The target is ~50 ms; the slack is for a busy two-core machine.
    expect(delay.max / 1e6).toBeLessThan(250);
  });
});

// Hostile and broken requests to every route, table-driven, over a real socket against a server
// with a trained run: each gets a 4xx whose one-line message names the problem; afterwards the
// server still serves and no run changed.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readLimits } from '../../functions/settings.ts';
import { startServer, type RunningServer } from '../../functions/server.ts';
import { readSse } from '../../functions/client.ts';
import { openRunStore, type RunStore } from '../../shared/store/index.ts';
import { tempStore } from '../functions/helpers.ts';
import { json, TINY, waitFor } from './helpers.ts';

const LIMITS = { maxBodyBytes: 64 * 1024, maxCorpusBytes: 32 * 1024, maxSampleLength: 2000, maxSampleStreams: 4 };

let dir: Awaited<ReturnType<typeof tempStore>>;
let store: RunStore;
let server: RunningServer;
const call = (path: string, init?: RequestInit) => fetch(server.url + path, init);

beforeAll(async () => {
  dir = await tempStore();
  store = openRunStore(dir.url);
  server = await startServer({ port: 0, store: openRunStore(dir.url), limits: readLimits({}, LIMITS), token: '', log: () => {} });
  expect((await call('/runs', json({ corpus: 'names', id: 'good', config: TINY }))).status).toBe(201);
  expect((await call('/runs', json({ corpus: 'names', id: 'fresh', config: TINY }))).status).toBe(201);
  expect((await call('/runs/good/train', json({ steps: 10 }))).status).toBe(200);
});
afterAll(async () => {
  await server?.close();
  await dir?.cleanup();
});

interface Row {
  name: string;
  method?: string;
  path: string;
  /** Objects are sent as JSON; strings and bytes as they are. */
  body?: unknown;
  type?: string;
  status: number;
  /** What the message must say (the field or the problem). */
  says: RegExp;
}

const big = (n: number) => 'x'.repeat(n);
const ROWS: Row[] = [
  // POST /runs
  { name: 'malformed JSON', path: '/runs', body: '{"corpus": ', status: 400, says: /json/i },
  { name: 'JSON array instead of an object', path: '/runs', body: [], status: 400, says: /expected object/i },
  { name: 'NaN literal (not JSON)', path: '/runs', body: '{"corpus":"names","config":{"layers":NaN}}', status: 400, says: /json/i },
  { name: 'missing corpus', path: '/runs', body: {}, status: 400, says: /^corpus/ },
  { name: 'corpus of the wrong type', path: '/runs', body: { corpus: 5 }, status: 400, says: /^corpus/ },
  { name: 'unknown built-in corpus', path: '/runs', body: { corpus: 'nope' }, status: 400, says: /^corpus/ },
  { name: 'unknown field', path: '/runs', body: { corpus: 'names', bogus: 1 }, status: 400, says: /bogus: unknown field/ },
  { name: 'unknown config field', path: '/runs', body: { corpus: 'names', config: { depth: 3 } }, status: 400, says: /config\.depth: unknown field/ },
  { name: 'negative layers', path: '/runs', body: { corpus: 'names', config: { layers: -1 } }, status: 400, says: /config\.layers/ },
  { name: 'zero layers', path: '/runs', body: { corpus: 'names', config: { layers: 0 } }, status: 400, says: /config\.layers/ },
  { name: 'zero hidden size', path: '/runs', body: { corpus: 'names', config: { hidden: 0 } }, status: 400, says: /config\.hidden/ },
  { name: 'huge hidden size', path: '/runs', body: { corpus: 'names', config: { hidden: 1e12 } }, status: 400, says: /config\.hidden/ },
  { name: 'fractional seqLen', path: '/runs', body: { corpus: 'names', config: { seqLen: 1.5 } }, status: 400, says: /config\.seqLen/ },
  { name: 'layers as a string', path: '/runs', body: { corpus: 'names', config: { layers: '2' } }, status: 400, says: /config\.layers/ },
  { name: "id with '../'", path: '/runs', body: { corpus: 'names', id: '../escape' }, status: 400, says: /^id/ },
  { name: 'id with a slash', path: '/runs', body: { corpus: 'names', id: 'a/b' }, status: 400, says: /^id/ },
  { name: 'id with NUL', path: '/runs', body: { corpus: 'names', id: 'a\u0000b' }, status: 400, says: /^id/ },
  { name: 'id of 300 characters', path: '/runs', body: { corpus: 'names', id: 'a'.repeat(300) }, status: 400, says: /^id/ },
  { name: 'empty inline corpus', path: '/runs', body: { corpus: { text: '' } }, status: 400, says: /corpus/ },
  { name: 'single-character corpus', path: '/runs', body: { corpus: { text: 'a'.repeat(5000) }, config: TINY }, status: 422, says: /distinct|character/i },
  { name: 'unknown corpus ref', path: '/runs', body: { corpus: `sha256:${'0'.repeat(64)}` }, status: 422, says: /not in the store/ },
  { name: 'corpus too short for the batch', path: '/runs', body: { corpus: { text: 'abcdefgh' }, config: TINY }, status: 422, says: /corpus/i },
  { name: 'oversized body', path: '/runs', body: { corpus: { text: big(80 * 1024) } }, status: 413, says: /exceeds 64 KB/ },
  {
    name: 'non-UTF-8 bytes inside a JSON body',
    path: '/runs',
    body: Buffer.concat([Buffer.from('{"corpus":{"text":"'), Buffer.from('abcdefgh '.repeat(200)), Buffer.from([0xff, 0xfe]), Buffer.from('"}}')]),
    type: 'application/json',
    status: 400,
    says: /not valid UTF-8/,
  },
  { name: 'a truncated UTF-8 sequence in a prime', path: '/runs/good/sample', body: Buffer.from([...Buffer.from('{"prime":"'), 0xc3, ...Buffer.from('"}')]), type: 'application/json', status: 400, says: /not valid UTF-8/ },
  // POST /corpora
  { name: 'non-UTF-8 corpus', path: '/corpora', body: new Uint8Array([0x61, 0xff, 0xfe, 0x62]), type: 'text/plain', status: 422, says: /utf-8/i },
  { name: 'empty corpus upload', path: '/corpora', body: '', type: 'text/plain', status: 422, says: /empty|corpus/i },
  { name: 'single-character corpus upload', path: '/corpora', body: 'zzzzzzzz', type: 'text/plain', status: 422, says: /distinct|character/i },
  { name: 'oversized corpus', path: '/corpora', body: big(40 * 1024), type: 'text/plain', status: 413, says: /corpus exceeds 32 KB/ },
  // POST /runs/:id/train
  { name: 'train an unknown run', path: '/runs/nope/train', body: { steps: 1 }, status: 404, says: /no run "nope"/ },
  { name: "train an id with '../'", path: '/runs/..%2F..%2Fetc/train', body: { steps: 1 }, status: 400, says: /^id/ },
  { name: 'train an id with NUL', path: '/runs/a%00b/train', body: { steps: 1 }, status: 400, says: /^id/ },
  { name: 'train a 300-character id', path: `/runs/${'a'.repeat(300)}/train`, body: { steps: 1 }, status: 400, says: /^id/ },
  { name: 'negative steps', path: '/runs/good/train', body: { steps: -1 }, status: 400, says: /^steps/ },
  { name: 'zero steps', path: '/runs/good/train', body: { steps: 0 }, status: 400, says: /^steps/ },
  { name: 'fractional steps', path: '/runs/good/train', body: { steps: 1.5 }, status: 400, says: /^steps/ },
  { name: 'steps as a string', path: '/runs/good/train', body: { steps: 'ten' }, status: 400, says: /^steps/ },
  { name: 'huge steps', path: '/runs/good/train', body: { steps: 1e15 }, status: 400, says: /^steps/ },
  { name: 'zero maxSeconds', path: '/runs/good/train', body: { maxSeconds: 0 }, status: 400, says: /^maxSeconds/ },
  { name: 'unknown train field', path: '/runs/good/train', body: { steps: 1, lr: 5 }, status: 400, says: /lr: unknown field/ },
  { name: 'malformed train JSON', path: '/runs/good/train', body: '{steps:1}', status: 400, says: /json/i },
  // POST /runs/:id/sample
  { name: 'zero length', path: '/runs/good/sample', body: { length: 0 }, status: 400, says: /^length/ },
  { name: 'negative length', path: '/runs/good/sample', body: { length: -5 }, status: 400, says: /^length/ },
  { name: 'huge length', path: '/runs/good/sample', body: { length: 1e12 }, status: 400, says: /^length/ },
  { name: 'length beyond the cap', path: '/runs/good/sample', body: { length: 2001 }, status: 400, says: /length: 2001 exceeds this server's limit of 2000/ },
  { name: 'negative temperature', path: '/runs/good/sample', body: { temperature: -1 }, status: 400, says: /^temperature/ },
  { name: 'huge temperature', path: '/runs/good/sample', body: { temperature: 1e9 }, status: 400, says: /^temperature/ },
  { name: 'negative topK', path: '/runs/good/sample', body: { topK: -1 }, status: 400, says: /^topK/ },
  { name: 'fractional topK', path: '/runs/good/sample', body: { topK: 2.5 }, status: 400, says: /^topK/ },
  { name: 'zero topP', path: '/runs/good/sample', body: { topP: 0 }, status: 400, says: /^topP/ },
  { name: 'topP above 1', path: '/runs/good/sample', body: { topP: 1.5 }, status: 400, says: /^topP/ },
  { name: 'prime outside the vocabulary', path: '/runs/good/sample', body: { prime: 'Ω☃' }, status: 400, says: /^prime: .*not in this run's vocabulary/ },
  { name: 'unknown checkpoint name', path: '/runs/good/sample', body: { checkpoint: 'newest' }, status: 400, says: /^checkpoint/ },
  { name: 'checkpoint step that does not exist', path: '/runs/good/sample', body: { checkpoint: 999 }, status: 404, says: /999/ },
  { name: 'sample an untrained run', path: '/runs/fresh/sample', body: {}, status: 409, says: /train/i },
  { name: 'sample an unknown run', path: '/runs/nope/sample', body: {}, status: 404, says: /no run "nope"/ },
  { name: 'unknown sample field', path: '/runs/good/sample', body: { len: 5 }, status: 400, says: /len: unknown field/ },
  // GET/DELETE /runs/:id, metrics, retrain
  { name: 'get an unknown run', method: 'GET', path: '/runs/nope', status: 404, says: /no run "nope"/ },
  // URL normalisation turns /runs/.. into / before any handler sees it.
  { name: 'get a dot-dot id', method: 'GET', path: '/runs/..', status: 404, says: /no route GET \/$/ },
  { name: 'get an encoded traversal id', method: 'GET', path: '/runs/%2E%2E%2F%2E%2E', status: 400, says: /^id/ },
  { name: 'delete an unknown run', method: 'DELETE', path: '/runs/nope', status: 404, says: /no run "nope"/ },
  { name: 'delete a traversal id', method: 'DELETE', path: '/runs/..%2Fgood', status: 400, says: /^id/ },
  { name: 'metrics with a negative afterStep', method: 'GET', path: '/runs/good/metrics?afterStep=-1', status: 400, says: /afterStep/ },
  { name: 'metrics with a bad follow', method: 'GET', path: '/runs/good/metrics?follow=maybe', status: 400, says: /follow/ },
  { name: 'metrics of an unknown run', method: 'GET', path: '/runs/nope/metrics', status: 404, says: /no run "nope"/ },
  { name: 'retrain with zero steps', path: '/runs/good/retrain', body: { steps: 0 }, status: 400, says: /^steps/ },
  { name: 'retrain an unknown run', path: '/runs/nope/retrain', body: { steps: 1 }, status: 404, says: /no run "nope"/ },
  { name: 'retrain with an unknown field', path: '/runs/good/retrain', body: { checkpointSeconds: 1 }, status: 400, says: /checkpointSeconds: unknown field/ },
  { name: 'retrains with limit 0', method: 'GET', path: '/runs/good/retrains?limit=0', status: 400, says: /limit/ },
  { name: 'an unknown route', method: 'GET', path: '/etc/passwd', status: 404, says: /no route GET \/etc\/passwd/ },
];

function init(row: Row): RequestInit {
  const method = row.method ?? 'POST';
  if (row.body === undefined) return { method };
  const isRaw = typeof row.body === 'string' || row.body instanceof Uint8Array;
  return {
    method,
    headers: { 'content-type': row.type ?? 'application/json' },
    body: isRaw ? (row.body as BodyInit) : JSON.stringify(row.body),
  };
}

/** What must not change: every run as the API shows it, and its complete checkpoints. */
async function snapshot() {
  const runs = await store.listRuns();
  return Promise.all(runs.map(async (r) => ({ run: r, checkpoints: (await store.listCheckpoints(r.id)).map((c) => [c.step, c.committedAt]) })));
}

async function expectRejected(res: Response, row: Row) {
  const text = await res.text();
  expect(res.status, `${row.name}: ${text}`).toBe(row.status);
  const { error } = JSON.parse(text);
  expect(error.message, row.name).toMatch(row.says);
  expect(error.message).not.toMatch(/\n|\bat .+:\d+:\d+/); // one line, no stack
  expect(typeof error.code).toBe('string');
}

describe('bad input over a socket', () => {
  it.each(ROWS.map((r) => [r.name, r] as const))('%s', async (_name, row) => {
    const before = await snapshot();
    await expectRejected(await call(row.path, init(row)), row);
    expect(await snapshot()).toEqual(before);
    expect((await call('/healthz')).status).toBe(200);
  });

  it('still serves afterwards, and temperature 0 (argmax) is valid', async () => {
    const a = await (await call('/runs/good/sample', json({ length: 50, temperature: 0 }))).json();
    const b = await (await call('/runs/good/sample', json({ length: 50, temperature: 0, seed: 99 }))).json();
    expect([...a.text]).toHaveLength(50);
    expect(b.text).toBe(a.text); // argmax ignores the seed
  });

  it('a client that disconnects mid-stream stops its generation; the server keeps serving', async () => {
    // Its own server with a huge length cap: 1,000,000 characters would take minutes to generate.
    const big = await startServer({ port: 0, store: openRunStore(dir.url), limits: readLimits({}, { maxSampleLength: 1_000_000 }), token: '', log: () => {} });
    try {
      const abort = new AbortController();
      const res = await fetch(`${big.url}/runs/good/sample`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
        body: JSON.stringify({ length: 1_000_000 }),
        signal: abort.signal,
      });
      const events = readSse(res)[Symbol.asyncIterator]();
      expect((await events.next()).done).toBe(false);
      expect(big.app.services.sampling.active).toBe(1);
      // The sampler behind the stream counts its batched steps: they must stop growing.
      const lease = await big.app.services.samplers.acquire('good', 'latest');
      const stats = lease.sampler.stats;
      lease.release();
      abort.abort();
      await waitFor('the stream to be dropped', () => big.app.services.sampling.active === 0, 5000, 10);
      // The sampling thread hears of the cancel a few steps later: wait until its count settles.
      await waitFor('the sampler to stop stepping', async () => {
        const seen = stats.steps;
        await new Promise((r) => setTimeout(r, 300));
        return stats.steps === seen;
      }, 5000, 10);
      const stoppedAt = stats.steps;
      await new Promise((r) => setTimeout(r, 500));
      expect(stats.steps).toBe(stoppedAt);
      expect(stoppedAt).toBeGreaterThan(0); // the same sampler the stream used
      expect(stoppedAt).toBeLessThan(1_000_000);
      expect((await fetch(`${big.url}/healthz`)).status).toBe(200);
    } finally {
      await big.close();
    }
    const ok = await fetch(`${server.url}/runs/good/sample`, json({ length: 20, seed: 1 }));
    expect(ok.status).toBe(200);
    expect([...(await ok.json()).text]).toHaveLength(20);
  });
});

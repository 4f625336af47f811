// Property-based fuzz of every route (fast-check, fixed seed, bounded runs), over a real socket
// against a server with a trained run: random JSON bodies, schema-shaped bodies with random
// values, and raw garbage never yield a 5xx or a crash; every 4xx is a one-line ApiError. Train
// and retrain go to the trained run, so valid but extreme bodies really train (the server's slice
// caps keep each short).
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type RunningServer } from '../../functions/server.ts';
import { readLimits } from '../../functions/settings.ts';
import { openRunStore } from '../../shared/store/index.ts';
import { tempStore } from '../functions/helpers.ts';
import { json, TINY } from './helpers.ts';

const SEED = 20261127;
const RUNS = 200; // per route; ~1200 requests in all

let dir: Awaited<ReturnType<typeof tempStore>>;
let server: RunningServer;
const call = (path: string, init?: RequestInit) => fetch(server.url + path, init);
beforeAll(async () => {
  dir = await tempStore();
  // Small caps keep the valid requests cheap: short samples, tiny bodies, slices of a few steps.
  const limits = readLimits({}, { maxSampleLength: 256, maxBodyBytes: 16 * 1024, maxCorpusBytes: 16 * 1024, maxSampleStreams: 64, maxStepsPerSlice: 5, maxSliceSeconds: 1, defaultSliceSeconds: 1 });
  server = await startServer({ port: 0, store: openRunStore(dir.url), limits, token: '', log: () => {} });
  expect((await call('/runs', json({ corpus: 'names', id: 'good', config: TINY }))).status).toBe(201);
  expect((await call('/runs/good/train', json({ steps: 5 }))).status).toBe(200);
});
afterAll(async () => {
  await server?.close();
  await dir?.cleanup();
});

/** Values that break validators: edge numbers, wrong types, long and odd strings. */
const nasty = fc.oneof(
  fc.jsonValue({ maxDepth: 2 }),
  fc.constantFrom(0, -1, 1, 1.5, 1e308, -1e308, 2 ** 53, Number.MIN_VALUE, '', 'latest', 'best', '../x', 'a\u0000b', null, true, [], {}),
  fc.integer(),
  fc.double({ noNaN: true }),
  fc.string({ maxLength: 300 }),
);

function bodies(keys: string[]) {
  return fc.oneof(
    fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)),
    fc.dictionary(fc.constantFrom(...keys, 'bogus'), nasty, { maxKeys: 5 }).map((v) => JSON.stringify(v)),
    fc.dictionary(fc.constantFrom('preset', 'layers', 'hidden', 'seqLen', 'batchSize', 'lr', 'evalEvery', 'cell', 'embedding'), nasty, { maxKeys: 4 }).map((config) =>
      JSON.stringify({ corpus: 'names', config }),
    ),
    fc.string({ maxLength: 200 }), // mostly not JSON at all
  );
}

/** Train and retrain bodies start real slices: fewer runs keep the file's time in bounds. */
const TRAINING_RUNS = 40;
const ROUTES: { path: string; keys: string[]; runs: number }[] = [
  { path: '/runs', keys: ['corpus', 'name', 'id', 'corpusName', 'config'], runs: RUNS },
  { path: '/runs/good/sample', keys: ['length', 'temperature', 'topK', 'topP', 'prime', 'seed', 'checkpoint'], runs: RUNS },
  { path: '/runs/good/train', keys: ['steps', 'epochs', 'maxSeconds', 'checkpointSeconds'], runs: TRAINING_RUNS },
  { path: '/runs/good/retrain', keys: ['steps', 'epochs', 'maxSeconds'], runs: TRAINING_RUNS },
];

async function expectNo5xx(res: Response, what: string) {
  const text = await res.text();
  expect(res.status, `${what} → ${res.status} ${text.slice(0, 300)}`).toBeLessThan(500);
  if (res.status >= 400) {
    const { error } = JSON.parse(text);
    expect(typeof error.message).toBe('string');
    expect(error.message).not.toMatch(/\n/);
  }
}

describe('fuzzed requests never yield a 5xx', () => {
  for (const route of ROUTES) {
    it(`POST ${route.path}`, async () => {
      let accepted = 0;
      await fc.assert(
        fc.asyncProperty(bodies(route.keys), async (body) => {
          const res = await call(route.path, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
          if (res.ok) accepted++;
          await expectNo5xx(res, body.slice(0, 200));
        }),
        { seed: SEED, numRuns: route.runs },
      );
      // Some bodies were valid and went all the way (a run created, a sample, a slice, a tick).
      expect(accepted).toBeGreaterThan(0);
    });
  }

  it('POST /corpora with random bytes', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 2000 }), async (bytes) => {
        await expectNo5xx(await call('/corpora', { method: 'POST', headers: { 'content-type': 'text/plain' }, body: bytes }), `${bytes.length} bytes`);
      }),
      { seed: SEED, numRuns: RUNS },
    );
  });

  it('GET with random ids and query strings', async () => {
    const segment = fc.oneof(fc.string({ maxLength: 80 }), fc.constantFrom('..', '.', '%2e%2e', '%00', 'good', 'a/b'));
    await fc.assert(
      fc.asyncProperty(segment, fc.constantFrom('', '/metrics', '/retrains'), fc.dictionary(fc.constantFrom('afterStep', 'follow', 'limit', 'x'), fc.string({ maxLength: 20 }), { maxKeys: 3 }), async (id, sub, query) => {
        const qs = new URLSearchParams(query).toString();
        const url = `/runs/${encodeURIComponent(id)}${sub}${qs ? `?${qs}` : ''}`;
        if (query.follow === '1' || query.follow === 'true') return; // an endless tail, not a request/response
        await expectNo5xx(await call(url), url);
      }),
      { seed: SEED, numRuns: RUNS },
    );
  });

  it('DELETE with random ids (never the trained run)', async () => {
    expect((await call('/runs', json({ corpus: 'names', id: 'victim', config: TINY }))).status).toBe(201);
    const segment = fc.oneof(fc.string({ maxLength: 80 }), fc.constantFrom('..', '.', '%2e%2e', '%00', 'victim', 'a/b', 'nobody')).filter((id) => id !== 'good');
    await fc.assert(
      fc.asyncProperty(segment, async (id) => {
        await expectNo5xx(await call(`/runs/${encodeURIComponent(id)}`, { method: 'DELETE' }), `DELETE ${id}`);
      }),
      { seed: SEED, numRuns: RUNS },
    );
    expect((await call('/runs/victim')).status).toBe(404);
  });

  it('still serves afterwards', async () => {
    expect((await call('/healthz')).status).toBe(200);
    expect((await call('/runs/good/sample', json({ length: 10 }))).status).toBe(200);
    expect((await call('/runs/good')).status).toBe(200);
  });
});

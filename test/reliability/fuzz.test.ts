// Property-based fuzz of the request schemas (fast-check, fixed seed, bounded runs): random JSON
// bodies, schema-shaped bodies with random values, and raw garbage, sent to every route with a
// body, never yield a 5xx or a crash; every 4xx is a one-line ApiError.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp, type App } from '../../functions/app.ts';
import { readLimits } from '../../functions/limits.ts';
import { openRunStore } from '../../shared/store/index.ts';
import { tempStore } from '../functions/helpers.ts';
import { json, TINY } from './helpers.ts';

const SEED = 20261127;
const RUNS = 200; // per route; ~1200 requests in all

let dir: Awaited<ReturnType<typeof tempStore>>;
let app: App;
beforeAll(async () => {
  dir = await tempStore();
  // Small caps keep the valid requests cheap: short samples, tiny bodies.
  app = createApp({ store: openRunStore(dir.url), limits: readLimits({}, { maxSampleLength: 64, maxBodyBytes: 16 * 1024, maxCorpusBytes: 16 * 1024, maxSampleStreams: 64 }), log: () => {} });
  expect((await app.request('/runs', json({ corpus: 'names', id: 'good', config: TINY }))).status).toBe(201);
  expect((await app.request('/runs/good/train', json({ steps: 5 }))).status).toBe(200);
});
afterAll(() => dir?.cleanup());

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

const ROUTES: { path: string; keys: string[] }[] = [
  { path: '/runs', keys: ['corpus', 'name', 'id', 'corpusName', 'config'] },
  { path: '/runs/good/sample', keys: ['length', 'temperature', 'topK', 'topP', 'prime', 'seed', 'checkpoint'] },
  // Valid train/retrain bodies would start real slices; an unknown run exercises the same validators.
  { path: '/runs/nobody/train', keys: ['steps', 'epochs', 'maxSeconds', 'checkpointSeconds'] },
  { path: '/runs/nobody/retrain', keys: ['steps', 'epochs', 'maxSeconds'] },
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
      await fc.assert(
        fc.asyncProperty(bodies(route.keys), async (body) => {
          await expectNo5xx(await app.request(route.path, { method: 'POST', headers: { 'content-type': 'application/json' }, body }), body.slice(0, 200));
        }),
        { seed: SEED, numRuns: RUNS },
      );
    });
  }

  it('POST /corpora with random bytes', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 2000 }), async (bytes) => {
        await expectNo5xx(await app.request('/corpora', { method: 'POST', headers: { 'content-type': 'text/plain' }, body: bytes }), `${bytes.length} bytes`);
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
        await expectNo5xx(await app.request(url), url);
      }),
      { seed: SEED, numRuns: RUNS },
    );
  });

  it('still serves afterwards', async () => {
    expect((await app.request('/healthz')).status).toBe(200);
    expect((await app.request('/runs/good/sample', json({ length: 10 }))).status).toBe(200);
  });
});

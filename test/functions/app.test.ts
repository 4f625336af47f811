// The API in-process (app.request): routing, validation, errors, auth, OpenAPI, run creation.
// Nothing here trains; see server.test.ts for slices and sampling over a real socket.
import { describe, expect, it } from 'vitest';
import { createApp } from '../../functions/app.ts';
import { readLimits } from '../../functions/settings.ts';
import { openRunStore } from '../../shared/store/index.ts';
import { blasInUse, json, useTempStore, TINY } from './helpers.ts';

const store = useTempStore();

const makeApp = (opts: { token?: string; limits?: Partial<ReturnType<typeof readLimits>> } = {}) =>
  createApp({ store: openRunStore(store.url), limits: readLimits({}, opts.limits ?? {}), ...(opts.token ? { token: opts.token } : {}), log: () => {} });

describe('runs', () => {
  it('creates a run on a built-in corpus with the resolved config and lists and gets it', async () => {
    const app = makeApp();
    const res = await app.request('/runs', json({ corpus: 'names', id: 'created-1', config: TINY }));
    expect(res.status).toBe(201);
    const run = await res.json();
    expect(run).toMatchObject({ id: 'created-1', corpus: 'builtin:names', corpusName: 'names', status: 'idle', step: 0 });
    expect(run.model).toMatchObject({ cell: 'lstm', layers: 1, hidden: 32 });
    expect(run.train).toMatchObject({ seqLen: 16, batchSize: 8, evalEvery: 10 });
    expect(run.vocabSize).toBeGreaterThan(26);
    expect(run.params).toBeGreaterThan(0);

    const got = await app.request('/runs/created-1');
    expect(got.status).toBe(200);
    expect((await got.json()).id).toBe('created-1');
    const list = await (await app.request('/runs')).json();
    expect(list.runs.map((r: { id: string }) => r.id)).toContain('created-1');
  });

  it('derives the id from the name, else from the corpus', async () => {
    const app = makeApp();
    const byName = await (await app.request('/runs', json({ corpus: 'names', name: 'My Fancy Run!', config: TINY }))).json();
    expect(byName.id).toBe('my-fancy-run');
    expect(byName.name).toBe('My Fancy Run!');
    const byCorpus = await (await app.request('/runs', json({ corpus: 'names', config: TINY }))).json();
    expect(byCorpus.id).toMatch(/^names-[0-9a-f]{6}$/);
  });

  it('accepts inline text and uploaded corpora by ref', async () => {
    const app = makeApp();
    const text = 'the quick brown fox jumps over the lazy dog. '.repeat(40);
    const inline = await app.request('/runs', json({ corpus: { text, name: 'fox.txt' }, id: 'inline-1', config: TINY }));
    expect(inline.status).toBe(201);
    const run = await inline.json();
    expect(run.corpus).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(run.corpusName).toBe('fox.txt');

    const up = await app.request('/corpora', { method: 'POST', headers: { 'content-type': 'text/plain' }, body: text });
    expect(up.status).toBe(201);
    const uploaded = await up.json();
    expect(uploaded.ref).toBe(run.corpus); // content-addressed
    expect(uploaded.vocabSize).toBe(new Set(text).size);
    const byRef = await app.request('/runs', json({ corpus: uploaded.ref, corpusName: 'fox.txt', id: 'ref-1', config: TINY }));
    expect(byRef.status).toBe(201);
    expect((await byRef.json()).corpusName).toBe('fox.txt');
  });

  it('deletes a run (404 afterwards)', async () => {
    const app = makeApp();
    await app.request('/runs', json({ corpus: 'names', id: 'doomed', config: TINY }));
    expect((await app.request('/runs/doomed', { method: 'DELETE' })).status).toBe(204);
    expect((await app.request('/runs/doomed')).status).toBe(404);
  });
});

describe('errors', () => {
  const expectError = async (res: Response, status: number, code?: string) => {
    expect(res.status).toBe(status);
    const body = await res.json();
    expect(typeof body.error.message).toBe('string');
    expect(body.error.message).not.toMatch(/\n|    at /); // one line, never a stack
    if (code) expect(body.error.code).toBe(code);
    return body.error as { code: string; message: string; field?: string };
  };

  it('400 names the invalid field (zod path)', async () => {
    const app = makeApp();
    const e1 = await expectError(await app.request('/runs', json({ corpus: 'names', config: { hidden: 'big' } })), 400, 'validation_failed');
    expect(e1.field).toBe('config.hidden');
    expect(e1.message).toMatch(/^config\.hidden: /);
    const e2 = await expectError(await app.request('/runs', json({ corpus: 'names', config: { hiden: 3 } })), 400);
    expect(e2.field).toBe('config.hiden');
    const e3 = await expectError(await app.request('/runs', json({ corpus: 'names', id: 'Bad/Id' })), 400);
    expect(e3.field).toBe('id');
    const e4 = await expectError(await app.request('/runs', json({ corpus: 'shakespeare' })), 400);
    expect(e4.field).toBe('corpus');
    const e5 = await expectError(await app.request('/runs/x/train', json({ steps: -1 })), 400);
    expect(e5.field).toBe('steps');
  });

  it('400 on malformed JSON and on model limits', async () => {
    const app = makeApp({ limits: { maxHidden: 64 } });
    await expectError(await app.request('/runs', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"corpus":' }), 400);
    const e = await expectError(await app.request('/runs', json({ corpus: 'names', config: { hidden: 128 } })), 400, 'limit_exceeded');
    expect(e.field).toBe('config.hidden');
  });

  it('404 for unknown runs and routes', async () => {
    const app = makeApp();
    await expectError(await app.request('/runs/nope'), 404, 'not_found');
    await expectError(await app.request('/runs/nope/metrics'), 404);
    await expectError(await app.request('/runs/nope/sample', json({})), 404);
    await expectError(await app.request('/runs/nope/train', json({ steps: 1 })), 404);
    await expectError(await app.request('/nowhere'), 404);
  });

  it('409 for a taken id and for sampling before any training', async () => {
    const app = makeApp();
    await app.request('/runs', json({ corpus: 'names', id: 'dup', config: TINY }));
    const e = await expectError(await app.request('/runs', json({ corpus: 'names', id: 'dup', config: TINY })), 409, 'run_exists');
    expect(e.field).toBe('id');
    const s = await expectError(await app.request('/runs/dup/sample', json({})), 409, 'not_trained');
    expect(s.message).toMatch(/train first/);
  });

  it('413 when a body exceeds the limit, 422 when a corpus is unusable', async () => {
    const app = makeApp({ limits: { maxBodyBytes: 1024, maxCorpusBytes: 2048 } });
    const big = 'x'.repeat(4096);
    await expectError(await app.request('/runs', json({ corpus: { text: big } })), 413, 'payload_too_large');
    await expectError(await app.request('/corpora', { method: 'POST', headers: { 'content-type': 'text/plain' }, body: big }), 413);

    const badUtf8 = new Uint8Array([0x61, 0x62, 0xff, 0x63]);
    const e = await expectError(await app.request('/corpora', { method: 'POST', headers: { 'content-type': 'text/plain' }, body: badUtf8 }), 422, 'corpus_unusable');
    expect(e.message).toMatch(/UTF-8/);
    await expectError(await app.request('/corpora', { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'aaaa' }), 422);
    // Too short for one batch of the chosen shape.
    const short = await expectError(await app.request('/runs', json({ corpus: { text: 'abcdefgh'.repeat(5) }, config: TINY })), 422);
    expect(short.field).toBe('corpus');
  });

  it('400 when a sample asks for more than the length limit', async () => {
    const app = makeApp({ limits: { maxSampleLength: 100 } });
    await app.request('/runs', json({ corpus: 'names', id: 'limited', config: TINY }));
    const e = await expectError(await app.request('/runs/limited/sample', json({ length: 101 })), 400, 'limit_exceeded');
    expect(e.field).toBe('length');
  });
});

describe('auth', () => {
  const TOKEN = 's3cret-token-value';

  it('requires the bearer token everywhere but /healthz', async () => {
    const app = makeApp({ token: TOKEN });
    expect((await app.request('/healthz')).status).toBe(503); // open (not 401); not ready: nothing has loaded tfjs
    const none = await app.request('/runs');
    expect(none.status).toBe(401);
    expect((await none.json()).error.code).toBe('unauthorized');
    expect((await app.request('/runs', { headers: { authorization: 'Bearer wrong' } })).status).toBe(401);
    expect((await app.request('/runs', { headers: { authorization: `Bearer ${TOKEN}x` } })).status).toBe(401);
    expect((await app.request('/runs', { headers: { authorization: TOKEN } })).status).toBe(401);
    expect((await app.request('/openapi.json')).status).toBe(401);
    expect((await app.request('/runs', { headers: { authorization: `Bearer ${TOKEN}` } })).status).toBe(200);
  });

  it('is open without a token', async () => {
    const app = makeApp();
    expect((await app.request('/runs')).status).toBe(200);
  });
});

describe('meta', () => {
  it('/healthz: 503 until the backend is ready, then ok, backend, device, blas and version', async () => {
    const app = makeApp();
    const version = expect.stringMatching(/^\d+\.\d+\.\d+/);
    const before = await app.request('/healthz');
    expect(before.status).toBe(503);
    expect(await before.json()).toEqual({ ok: false, ready: false, version });
    await app.services.backend.ready();
    const after = await app.request('/healthz');
    expect(after.status).toBe(200);
    expect(await after.json()).toEqual({ ok: true, ready: true, backend: 'wasm', device: 'cpu', blas: blasInUse(), version });
  });

  it('/openapi.json lists every route with bearer security and never the token', async () => {
    const TOKEN = 'do-not-leak-this-token';
    const app = makeApp({ token: TOKEN });
    const res = await app.request('/openapi.json', { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(text).not.toContain(TOKEN);
    const doc = JSON.parse(text);
    expect(doc.openapi).toMatch(/^3\.1/);
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining(['/corpora', '/healthz', '/runs', '/runs/{id}', '/runs/{id}/metrics', '/runs/{id}/sample', '/runs/{id}/train']),
    );
    // Every route the app serves is documented (Hono's router and the OpenAPI registry agree).
    const served = new Set(app.routes.map((r) => r.path.replace(/:(\w+)/g, '{$1}')));
    for (const p of Object.keys(doc.paths)) expect(served.has(p), p).toBe(true);
    for (const p of served) if (p !== '/*' && p !== '*' && p !== '/openapi.json') expect(doc.paths, p).toHaveProperty([p]);
    expect(Object.keys(doc.paths['/runs'])).toEqual(expect.arrayContaining(['get', 'post']));
    expect(doc.paths['/runs/{id}'].delete).toBeDefined();
    expect(doc.components.securitySchemes.bearer).toMatchObject({ type: 'http', scheme: 'bearer' });
    expect(doc.security).toEqual([{ bearer: [] }]);
    expect(doc.paths['/healthz'].get.security).toEqual([]);
    expect(doc.paths['/runs/{id}/train'].post.responses['200'].content).toHaveProperty('text/event-stream');
    expect(doc.paths['/runs'].post.requestBody.content['application/json'].schema).toBeDefined();
  });
});

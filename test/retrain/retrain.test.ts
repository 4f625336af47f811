// POST /runs/:id/retrain and GET /runs/:id/retrains over real sockets (a server per test's limits)
// on a file store: promotion on improvement, best kept on a regression, idempotent repeats, 409
// while training, vocabulary growth, and corpora the run cannot train on.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type RunningServer } from '../../functions/server.ts';
import { readLimits, type Limits } from '../../functions/settings.ts';
import { RetrainRecords } from '../../functions/retrain/records.ts';
import type { RetrainReport } from '../../shared/api/schemas.ts';
import { openRunStore, type RunStore } from '../../shared/store/index.ts';
import { ENGLISH, ENGLISH_2, post, tempDir, TINY } from './helpers.ts';

let tmp: Awaited<ReturnType<typeof tempDir>>;
let store: RunStore;
const servers: RunningServer[] = [];
beforeAll(async () => {
  tmp = await tempDir();
  store = openRunStore(tmp.url);
});
afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
  await tmp.cleanup();
});

/** A server on the shared store with these limits; `request` goes over its socket. */
async function makeApp(limits: Partial<Limits> = {}) {
  const server = await startServer({ port: 0, store: openRunStore(tmp.url), token: '', backendInit: 'first-use', limits: readLimits({}, { defaultCheckpointSeconds: 3600, ...limits }), log: () => {} });
  servers.push(server);
  return { url: server.url, request: (path: string, init?: RequestInit) => fetch(server.url + path, init) };
}
type App = Awaited<ReturnType<typeof makeApp>>;

async function createFeedRun(app: App, id: string, key: string, text: string) {
  await store.putFeed(key, text);
  const res = await app.request('/runs', post({ corpus: { key }, id, config: TINY }));
  expect(res.status).toBe(201);
  return res.json();
}

async function tick(app: App, id: string, body: unknown = { steps: 30 }, headers: Record<string, string> = {}) {
  const res = await app.request(`/runs/${id}/retrain`, post(body, headers));
  return { res, body: (await res.json()) as RetrainReport & { error?: { code: string; message: string; field?: string } } };
}

const reports = async (app: App, id: string) => ((await (await app.request(`/runs/${id}/retrains`)).json()) as { retrains: RetrainReport[] }).retrains;
const run = async (app: App, id: string) => (await app.request(`/runs/${id}`)).json();

describe('retrain ticks', () => {
  it('promotes on improvement: the first tick on a fresh model lowers val loss and moves best', async () => {
    const app = await makeApp();
    const created = await createFeedRun(app, 'fresh', 'feeds/fresh.txt', ENGLISH);
    expect(created.corpus).toBe('key:feeds/fresh.txt');
    expect(created.corpusName).toBe('fresh.txt');

    const { res, body: report } = await tick(app, 'fresh', { steps: 30 });
    expect(res.status).toBe(200);
    expect(report).toMatchObject({ runId: 'fresh', outcome: 'promoted', promoted: true, steps: 30, step: 30, fromStep: null, budget: { steps: 30 }, stopReason: 'steps' });
    expect(report.beforeValLoss).toBeGreaterThan(report.afterValLoss!);
    expect(report.corpus).toMatchObject({ ref: 'key:feeds/fresh.txt', changed: false, addedChars: [] });
    expect(report.corpus.version).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(Date.parse(report.finishedAt)).toBeGreaterThanOrEqual(Date.parse(report.startedAt));

    const best = await store.readPointer('fresh', 'best');
    expect(best).toMatchObject({ step: 30, valLoss: report.afterValLoss });
    expect((await run(app, 'fresh')).bestValLoss).toBe(report.afterValLoss);
    // Stored and listed.
    expect(await reports(app, 'fresh')).toEqual([report]);
  });

  it('retrains runs on other corpora too (inline text: no feed version, never changed)', async () => {
    const app = await makeApp();
    expect((await app.request('/runs', post({ corpus: { text: ENGLISH, name: 'eng.txt' }, id: 'inline', config: TINY }))).status).toBe(201);
    const { res, body: report } = await tick(app, 'inline', { steps: 20 });
    expect(res.status).toBe(200);
    expect(report.corpus).toMatchObject({ version: null, etag: null, changed: false, addedChars: [] });
    expect(report.corpus.ref).toMatch(/^sha256:/);
    expect(report.outcome).toBe('promoted');
  });

  it('keeps best on a regression: a feed whose training text no longer resembles its validation text', async () => {
    const app = await makeApp();
    await createFeedRun(app, 'regress', 'feeds/regress.txt', ENGLISH);
    const first = await tick(app, 'regress', { steps: 40 });
    expect(first.body.outcome).toBe('promoted');
    const bestBefore = await store.readPointer('regress', 'best');

    // Honest regression: the new version's first 90% (the training split) is one repeated word, its
    // last 10% (validation) is the English the model knows. Training on "mat mat mat…" at lr 0.01
    // makes it predict that pattern, so loss on the English validation text rises.
    const english = ENGLISH.slice(0, 400);
    const shifted = 'mat '.repeat(Math.ceil((english.length * 9) / 4)).slice(0, english.length * 9) + english;
    await store.putFeed('feeds/regress.txt', shifted);
    const { res, body: report } = await tick(app, 'regress', { steps: 60 });
    expect(res.status).toBe(200);
    expect(report).toMatchObject({ outcome: 'kept', promoted: false, fromStep: 40, steps: 60, step: 100 });
    expect(report.corpus.changed).toBe(true);
    expect(report.afterValLoss!).toBeGreaterThan(report.beforeValLoss!);
    expect(report.reason).toMatch(/did not improve/);

    // best stays on the same checkpoint (re-measured on the current split); latest moved on.
    const bestAfter = await store.readPointer('regress', 'best');
    expect(bestAfter!.files).toEqual(bestBefore!.files);
    expect(bestAfter!.valLoss).toBe(report.beforeValLoss);
    expect((await store.readPointer('regress', 'latest'))!.step).toBe(100);
    expect((await run(app, 'regress')).bestValLoss).toBe(report.beforeValLoss);
    const listed = await reports(app, 'regress');
    expect(listed.map((r) => r.id)).toEqual([report.id, first.body.id]); // newest first
  });

  it('is idempotent under a repeated key: same report, no training, no new report', async () => {
    const app = await makeApp();
    await createFeedRun(app, 'idem', 'feeds/idem.txt', ENGLISH);
    const first = await tick(app, 'idem', { steps: 10 }, { 'idempotency-key': '2026-11-27T03:00:00Z' });
    expect(first.res.status).toBe(200);
    expect(first.res.headers.get('idempotent-replayed')).toBeNull();
    const stepAfterFirst = (await run(app, 'idem')).step;

    const again = await tick(app, 'idem', { steps: 10 }, { 'idempotency-key': '2026-11-27T03:00:00Z' });
    expect(again.res.status).toBe(200);
    expect(again.res.headers.get('idempotent-replayed')).toBe('true');
    expect(again.body).toEqual(first.body);
    expect((await run(app, 'idem')).step).toBe(stepAfterFirst);
    expect(await reports(app, 'idem')).toHaveLength(1);

    // Cloud Scheduler's schedule time is the key when no Idempotency-Key is sent.
    const sched = { 'x-cloudscheduler-scheduletime': '2026-11-28T03:00:00Z' };
    const a = await tick(app, 'idem', { steps: 5 }, sched);
    const b = await tick(app, 'idem', { steps: 5 }, sched);
    expect(a.body.idempotencyKey).toBe('2026-11-28T03:00:00Z');
    expect(b.body).toEqual(a.body);
    expect((await run(app, 'idem')).step).toBe(stepAfterFirst + 5);

    // A repeat while the first is still running on this instance waits for it and shares its report.
    const [c, d] = await Promise.all([
      tick(app, 'idem', { steps: 20 }, { 'idempotency-key': 'concurrent' }),
      tick(app, 'idem', { steps: 20 }, { 'idempotency-key': 'concurrent' }),
    ]);
    expect(c.body.id).toBe(d.body.id);
    expect((await run(app, 'idem')).step).toBe(stepAfterFirst + 25);
    expect(await reports(app, 'idem')).toHaveLength(3);

    // Still running on another instance (its key record says running and it holds the lease): 409.
    const records = new RetrainRecords(store);
    expect(await records.claimKey('idem', { key: 'elsewhere', state: 'running', startedAt: new Date().toISOString() })).toBe(true);
    const lease = await store.acquireLease('idem', 'other-instance', 60_000);
    const busy = await tick(app, 'idem', { steps: 5 }, { 'idempotency-key': 'elsewhere' });
    expect(busy.res.status).toBe(409);
    expect(busy.body.error!.code).toBe('retrain_in_progress');
    // That instance died (its lease is gone, no report): the scheduler's retry runs the tick.
    await store.releaseLease(lease);
    const retried = await tick(app, 'idem', { steps: 5 }, { 'idempotency-key': 'elsewhere' });
    expect(retried.res.status).toBe(200);
    expect(retried.body.steps).toBe(5);
    expect((await records.readKey('idem', 'elsewhere'))!.record).toMatchObject({ state: 'done', reportId: retried.body.id });
  });

  it('answers 409 while the run is training and changes nothing', async () => {
    const app = await makeApp();
    await createFeedRun(app, 'busy', 'feeds/busy.txt', ENGLISH);
    const training = app.request('/runs/busy/train', post({ maxSeconds: 3 }));
    await expect.poll(async () => (await run(app, 'busy')).status, { timeout: 10_000, interval: 50 }).toBe('training');
    const before = await run(app, 'busy');

    const { res, body } = await tick(app, 'busy', { steps: 5 }, { 'idempotency-key': 'while-busy' });
    expect(res.status).toBe(409);
    expect(body.error!.code).toBe('training_in_progress');
    expect(await reports(app, 'busy')).toEqual([]);
    expect(await store.objects.list('runs/busy/retrains/')).toEqual([]); // not even the key
    expect((await run(app, 'busy')).step).toBe(before.step);

    expect((await training).status).toBe(200);
    // The key was not used up: once the slice is over, the same key trains.
    const after = await tick(app, 'busy', { steps: 5 }, { 'idempotency-key': 'while-busy' });
    expect(after.res.status).toBe(200);
    expect(after.body.steps).toBe(5);
  });

  it('extends the vocabulary when the feed gains characters, and training proceeds', async () => {
    const app = await makeApp();
    await createFeedRun(app, 'grow', 'feeds/grow.txt', ENGLISH);
    const first = await tick(app, 'grow', { steps: 20 });
    expect(first.body.vocabSize.before).toBe(first.body.vocabSize.after);
    const vocab0 = (await run(app, 'grow')).vocabSize;

    await store.putFeed('feeds/grow.txt', ENGLISH_2 + 'QUIZ: ZEBRAS JUMP! '.repeat(20));
    const { res, body: report } = await tick(app, 'grow', { steps: 20 });
    expect(res.status).toBe(200);
    expect(report.corpus.changed).toBe(true);
    // In code-point order ('p' comes from "slept" in ENGLISH_2).
    expect(report.corpus.addedChars).toEqual(['!', ':', 'A', 'B', 'E', 'I', 'J', 'M', 'P', 'Q', 'R', 'S', 'U', 'Z', 'p']);
    expect(report.vocabSize).toEqual({ before: vocab0, after: vocab0 + 15 });
    expect(report.steps).toBe(20);
    expect(Number.isFinite(report.afterValLoss)).toBe(true);
    const after = await run(app, 'grow');
    expect(after.vocabSize).toBe(vocab0 + 15);
    expect(after.step).toBe(40);

    // The new characters are usable: a prime made of them samples from the latest checkpoint.
    const sample = await app.request('/runs/grow/sample', post({ prime: 'ZEBRAS', length: 20, seed: 1 }));
    expect(sample.status).toBe(200);
    // And a plain train slice now runs on the grown feed too.
    const slice = await app.request('/runs/grow/train', post({ steps: 3 }));
    expect(slice.status).toBe(200);
    expect((await slice.json()).step).toBe(43);
  });

  it('refuses corpora it cannot handle with a clear 422 and a report, changing nothing else', async () => {
    const app = await makeApp();
    await createFeedRun(app, 'bad', 'feeds/bad.txt', ENGLISH);
    await tick(app, 'bad', { steps: 10 });
    const latest = await store.readPointer('bad', 'latest');

    // Not UTF-8.
    await store.putFeed('feeds/bad.txt', new Uint8Array([0x74, 0x68, 0x65, 0xff, 0xfe, 0x20]));
    const broken = await tick(app, 'bad', { steps: 10 }, { 'idempotency-key': 'bad-1' });
    expect(broken.res.status).toBe(422);
    expect(broken.body.error).toMatchObject({ code: 'retrain_rejected', field: 'corpus' });
    expect(broken.body.error!.message).toMatch(/not valid UTF-8 \(byte offset 3\)/);
    // The repeat is answered the same way, from the stored report.
    const again = await tick(app, 'bad', { steps: 10 }, { 'idempotency-key': 'bad-1' });
    expect(again.res.status).toBe(422);
    expect(again.body.error!.message).toBe(broken.body.error!.message);

    // Too short for one batch of this run's windows.
    await store.putFeed('feeds/bad.txt', 'the cat sat.');
    const short = await tick(app, 'bad', { steps: 10 });
    expect(short.res.status).toBe(422);
    expect(short.body.error!.message).toMatch(/too short|characters/);

    // Growth past the server's parameter limit: the model cannot be extended here.
    await store.putFeed('feeds/bad.txt', ENGLISH + 'ÀÁÂÃÄÅÆÇÈÉÊËÌÍÎÏ '.repeat(10));
    const limited = await makeApp({ maxParams: (await run(app, 'bad')).params + 10 });
    const big = await tick(limited, 'bad', { steps: 10 });
    expect(big.res.status).toBe(422);
    expect(big.body.error!.message).toMatch(/adds 16 new character\(s\).*over this server's limit/);

    const listed = await reports(app, 'bad');
    expect(listed.slice(0, 3).map((r) => r.outcome)).toEqual(['rejected', 'rejected', 'rejected']);
    expect(listed[0].reason).toMatch(/parameters/);
    expect(listed).toHaveLength(4); // the first tick and three rejections; the repeat added none
    expect(await store.readPointer('bad', 'latest')).toEqual(latest);
    expect((await run(app, 'bad')).step).toBe(10);

    // A feed that is gone.
    await store.objects.delete('feeds/bad.txt');
    const gone = await tick(app, 'bad', { steps: 10 });
    expect(gone.res.status).toBe(422);
    expect(gone.body.error!.message).toMatch(/no feed object at feeds\/bad.txt/);
  });

  it('a tick whose training fails reports failed and leaves its key free for the retry', async () => {
    const app = await makeApp();
    await createFeedRun(app, 'broken', 'feeds/broken.txt', ENGLISH);
    await tick(app, 'broken', { steps: 5 });
    // Damage the stored best checkpoint's weights: state.json still reads, the worker cannot load it.
    const best = await store.readPointer('broken', 'best');
    await store.objects.put(`runs/broken/${best!.files.find((f) => f.endsWith('weights.bin'))}`, new Uint8Array(7));

    const first = await tick(app, 'broken', { steps: 5 }, { 'idempotency-key': 'k' });
    expect(first.res.status).toBe(500);
    expect(first.body.error!.code).toBe('training_failed');
    const listed = await reports(app, 'broken');
    expect(listed[0]).toMatchObject({ outcome: 'failed', promoted: false, steps: 0, idempotencyKey: 'k' });
    expect(listed[0].reason).toMatch(/^training failed: /);
    expect(await new RetrainRecords(store).readKey('broken', 'k')).toBeNull();
    // Not an answer to replay: the retry runs (and fails) again.
    expect((await tick(app, 'broken', { steps: 5 }, { 'idempotency-key': 'k' })).res.status).toBe(500);
    expect(await reports(app, 'broken')).toHaveLength(3);
  });

  it('validates feed keys at run creation so a run cannot read outside feeds/', async () => {
    const app = await makeApp();
    for (const key of ['feeds/../runs/fresh/run.json', 'corpora/abc.txt', 'feeds/x.bin', '/feeds/x.txt', 'feeds/.hidden.txt', 'feeds//x.txt']) {
      const res = await app.request('/runs', post({ corpus: { key }, id: 'nope', config: TINY }));
      expect(res.status, key).toBe(400);
      expect((await res.json()).error.message).toMatch(/^corpus/);
    }
    const missing = await app.request('/runs', post({ corpus: { key: 'feeds/none.txt' }, id: 'nope', config: TINY }));
    expect(missing.status).toBe(422);
    expect((await missing.json()).error.message).toMatch(/no feed object at feeds\/none.txt/);
    expect((await app.request('/runs/nope/retrain', post({}))).status).toBe(404);
    expect((await app.request('/runs/fresh/retrain', post({ steps: 0 }))).status).toBe(400);
    expect((await app.request('/runs/fresh/retrain', post({ lr: 1 }))).status).toBe(400);
  });

  it('documents the routes in /openapi.json', async () => {
    const doc = await (await (await makeApp()).request('/openapi.json')).json();
    expect(doc.paths['/runs/{id}/retrain'].post.responses['200']).toBeDefined();
    expect(doc.paths['/runs/{id}/retrain'].post.parameters.map((p: { name: string }) => p.name)).toContain('idempotency-key');
    expect(doc.paths['/runs/{id}/retrains'].get.responses['200']).toBeDefined();
  });
});

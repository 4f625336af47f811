// Two trainers for one run: two `train` calls at the same moment (on one instance, and on two
// server processes sharing a store) → exactly one trains, the other gets 409, the checkpoint
// history stays linear. And a trainer killed with -9: its lease blocks others (409) until it
// expires (CHARRNN_LEASE_SECONDS), then another instance resumes from the last checkpoint.
// On the file store: s3rver does not enforce conditional writes, so lease exclusion can only be
// shown here (see shared/store/README.md); AWS S3 enforces the same If-None-Match/If-Match calls.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openRunStore, type RunStore } from '../../shared/store/index.ts';
import { tempStore } from '../functions/helpers.ts';
import { spawnServerProcess, type ServerProcess } from '../support/server-process.ts';
import { drainSse, expectCommittedLatest, expectLinearValPoints, json, sse, TINY, waitFor } from './helpers.ts';

const LEASE_SECONDS = 3;
let dir: Awaited<ReturnType<typeof tempStore>>;
let store: RunStore;
let a: ServerProcess;
let b: ServerProcess;

beforeAll(async () => {
  dir = await tempStore();
  store = openRunStore(dir.url);
  const env = { CHARRNN_STORE: dir.url, CHARRNN_LEASE_SECONDS: String(LEASE_SECONDS) };
  [a, b] = await Promise.all([spawnServerProcess(env), spawnServerProcess(env)]);
});
afterAll(async () => {
  await Promise.all([a?.stop(), b?.stop()]);
  await dir?.cleanup();
});

async function race(urls: string[], id: string, steps: number) {
  const results = await Promise.all(urls.map((u) => fetch(`${u}/runs/${id}/train`, json({ steps }))));
  const bodies = await Promise.all(results.map((r) => r.json()));
  return results.map((r, i) => ({ status: r.status, body: bodies[i] }));
}

async function expectLinearHistory(id: string) {
  const steps = (await store.listCheckpoints(id)).map((c) => c.step);
  expect(steps.length).toBeGreaterThan(0);
  for (let i = 1; i < steps.length; i++) expect(steps[i]).toBeGreaterThan(steps[i - 1]);
  return steps;
}

describe('two train calls at the same moment', () => {
  it('on one instance: one trains, the other gets 409', async () => {
    expect((await fetch(`${a.url}/runs`, json({ corpus: 'names', id: 'same', config: TINY }))).status).toBe(201);
    const results = await race([a.url, a.url], 'same', 20);
    expect(results.map((r) => r.status).sort()).toEqual([200, 409]);
    expect(results.find((r) => r.status === 409)!.body.error.code).toBe('training_in_progress');
    expect(results.find((r) => r.status === 200)!.body).toMatchObject({ step: 20, steps: 20 });
    // One trainer's history: its improving validation at 10, then the slice's end at 20.
    expect(await expectLinearHistory('same')).toEqual([10, 20]);
    await expectLinearValPoints(store, 'same', 20);
  });

  it('on two server processes sharing the store: one trains, the other gets 409', async () => {
    expect((await fetch(`${a.url}/runs`, json({ corpus: 'names', id: 'shared', config: TINY }))).status).toBe(201);
    for (let round = 1; round <= 3; round++) {
      const results = await race(round % 2 ? [a.url, b.url] : [b.url, a.url], 'shared', 10);
      expect(results.map((r) => r.status).sort()).toEqual([200, 409]);
      expect(results.find((r) => r.status === 409)!.body.error.message).toMatch(/shared/);
      expect(results.find((r) => r.status === 200)!.body).toMatchObject({ step: round * 10, steps: 10 });
    }
    expect(await expectCommittedLatest(store, 'shared')).toBe(30);
    expect((await expectLinearHistory('shared')).at(-1)).toBe(30);
    await expectLinearValPoints(store, 'shared', 30);
    expect(await store.readLease('shared')).toBeNull();
  });
});

describe('a trainer killed with -9', () => {
  it('holds its lease until it expires; then another instance resumes from the last checkpoint', async () => {
    expect((await fetch(`${a.url}/runs`, json({ corpus: 'names', id: 'orphan', config: TINY }))).status).toBe(201);
    const stream = drainSse(await fetch(`${a.url}/runs/orphan/train`, sse({ maxSeconds: 120, checkpointSeconds: 0.5 })));
    await waitFor('a checkpoint', async () => ((await store.readPointer('orphan', 'latest'))?.step ?? 0) > 0, 60_000);
    a.kill('SIGKILL');
    await a.exited;
    await stream.done;
    const latest = await expectCommittedLatest(store, 'orphan');
    const lease = await store.readLease('orphan');
    expect(lease).not.toBeNull();

    // Unconditional: a machine too slow to ask before the lease lapses fails here, visibly.
    const askedAt = Date.now();
    const blocked = await fetch(`${b.url}/runs/orphan/train`, json({ steps: 5 }));
    const view = (await (await fetch(`${b.url}/runs/orphan`)).json()).status;
    expect(askedAt, 'the 409 was asked for after the dead holder\'s lease expired').toBeLessThan(lease!.expiresAt - 200);
    expect(Date.now(), 'the run view was read after the lease expired').toBeLessThan(lease!.expiresAt);
    expect(blocked.status).toBe(409);
    expect((await blocked.json()).error.code).toBe('training_in_progress');
    expect(view).toBe('training');
    await waitFor('the lease to expire', () => Date.now() > lease!.expiresAt + 100, LEASE_SECONDS * 1000 + 2000);
    expect((await (await fetch(`${b.url}/runs/orphan`)).json()).status).toBe('idle'); // a lapsed lease is not trusted
    const target = (Math.floor(latest / 10) + 2) * 10;
    const res = await fetch(`${b.url}/runs/orphan/train`, json({ steps: target - latest }));
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ step: target, steps: target - latest });
    expect(await expectCommittedLatest(store, 'orphan')).toBe(target);
    await expectLinearValPoints(store, 'orphan', target);
    expect(await store.readLease('orphan')).toBeNull();
  });
});

// The server process dies: `kill -9` in the middle of a training slice (at each step of a
// checkpoint commit, held there by the fault proxy), then a restart; and SIGTERM during a slice. Real processes (functions/main.ts), real sockets, a real S3 (s3rver) behind the proxy.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RunStore } from '../../shared/store/index.ts';
import { S3ObjectStore } from '../../shared/store/s3-store.ts';
import { startFaultProxy, type FaultProxy, type ProxyRequest } from '../support/fault-proxy.ts';
import { startS3Server, type S3TestServer } from '../support/s3server.ts';
import { spawnServerProcess, type ServerProcess } from '../support/server-process.ts';
import { drainSse, expectCommittedLatest, expectLinearValPoints, json, latestStep, sse, sleep, TINY, waitFor } from './helpers.ts';

const LEASE_SECONDS = 3;
const PREFIX = 'kill';

let s3: S3TestServer;
let proxy: FaultProxy;
let store: RunStore; // straight to s3rver: what is really stored
let server: ServerProcess | undefined;

const start = () =>
  spawnServerProcess({
    ...s3.env,
    AWS_ENDPOINT_URL_S3: proxy.url,
    CHARRNN_STORE: s3.storeUrl(PREFIX),
    CHARRNN_LEASE_SECONDS: String(LEASE_SECONDS),
  });

beforeAll(async () => {
  s3 = await startS3Server();
  proxy = await startFaultProxy(s3.endpoint);
  store = new RunStore(new S3ObjectStore(s3.storeUrl(PREFIX), { clientConfig: s3.clientConfig }));
});
afterAll(async () => {
  await server?.stop();
  await proxy?.close();
  await s3?.stop();
});

/** Starts a long slice, lets it commit a checkpoint past `minStep`, then holds the next PUT that
 * `hold` matches and kills the server with SIGKILL while that PUT is on the wire. */
async function killDuringCommit(id: string, minStep: number, hold: (r: ProxyRequest) => boolean) {
  const res = await fetch(`${server!.url}/runs/${id}/train`, sse({ maxSeconds: 120, checkpointSeconds: 1 }));
  expect(res.status).toBe(200);
  const stream = drainSse(res);
  await waitFor(`a checkpoint past step ${minStep}`, async () => (await latestStep(store, id)) > minStep, 60_000);
  const seen = proxy.log.length;
  proxy.set({ mode: 'delay', ms: 120_000, match: hold, times: 1 });
  await waitFor('the held PUT', () => proxy.log.slice(seen).some((r) => r.action === 'delay'), 30_000, 5).catch((e) => { console.log(JSON.stringify(proxy.log.slice(-15)), server!.stderr().slice(-3000)); throw e; });
  await sleep(50); // whatever else was in flight lands
  server!.kill('SIGKILL');
  const exit = await server!.exited;
  expect(exit.signal).toBe('SIGKILL');
  await stream.done;
  proxy.set({ mode: 'pass' });
  server = undefined;
  return stream.events;
}

describe('kill -9 during a slice, then restart', () => {
  const id = 'k9';

  it('never leaves latest on a partial checkpoint nor a hole in the metrics, and resumes after the lease expires', async () => {
    server = await start();
    expect((await fetch(`${server.url}/runs`, json({ corpus: 'names', id, config: TINY }))).status).toBe(201);

    // Killed at each step of a commit (metrics, then the checkpoint's files, its manifest, then
    // latest.json), each time with that PUT held on the wire; restarted in between. Were latest
    // written before the files or the manifest, it would point at a partial checkpoint here.
    const PUT = (pattern: RegExp) => (r: ProxyRequest) => r.method === 'PUT' && pattern.test(r.url);
    const killPoints: [string, (r: ProxyRequest) => boolean][] = [
      ['a metrics segment', PUT(new RegExp(`/${id}/metrics/`))],
      ["a checkpoint's weights", PUT(new RegExp(`/${id}/checkpoints/\\d{10}[^/]*/weights\\.bin\\?`))],
      ["a checkpoint's manifest", PUT(new RegExp(`/${id}/checkpoints/\\d{10}[^/]*/checkpoint\\.json\\?`))],
      ['latest.json', PUT(new RegExp(`/${id}/latest\\.json\\?`))],
    ];
    let resumeFrom = 0;
    for (const [what, hold] of killPoints) {
      if (!server) {
        // Restarted. (s3rver ignores If-None-Match, so the stale lease cannot block here: that
        // part is proven on the file store, concurrent-trainers.test.ts 'a trainer killed with -9'.)
        // Wait it out as a real S3 would require.
        server = await start();
        const stale = await store.readLease(id);
        expect(stale).not.toBeNull(); // the dead holder could not release it
        await waitFor('the stale lease to expire', () => Date.now() > stale!.expiresAt + 100, LEASE_SECONDS * 1000 + 2000);
      }
      const t0 = Date.now();
      await killDuringCommit(id, resumeFrom + 20, hold);
      if (process.env.CHARRNN_TEST_LOG) console.log(`killed during ${what} after ${Date.now() - t0} ms`);
      const now = await expectCommittedLatest(store, id);
      expect(now, `latest after a kill during ${what}`).toBeGreaterThan(resumeFrom);
      expect((await store.getRun(id))!.step).toBeLessThanOrEqual(now);
      resumeFrom = now;
    }
    // The last held commit (latest.json) had already written its metrics: points past latest,
    // from a lost timeline, which the next slice's metrics supersede.
    const orphans = (await store.readMetrics(id)).filter((p) => p.step > resumeFrom);
    expect(orphans.length).toBeGreaterThan(0);

    // Restart, wait out the lease, train to a multiple of 10: the run continues from latest.
    server = await start();
    const lease = await store.readLease(id);
    expect(lease).not.toBeNull();
    await waitFor('the stale lease to expire', () => Date.now() > lease!.expiresAt + 100, LEASE_SECONDS * 1000 + 2000);
    const target = (Math.floor(resumeFrom / 10) + 3) * 10;
    const res = await fetch(`${server.url}/runs/${id}/train`, json({ steps: target - resumeFrom }));
    expect(res.status).toBe(200);
    const summary = await res.json();
    expect(summary).toMatchObject({ step: target, steps: target - resumeFrom, stopReason: 'steps', checkpointStep: target });
    expect(await expectCommittedLatest(store, id)).toBe(target);
    await expectLinearValPoints(store, id, target);
    expect(await store.readLease(id)).toBeNull();
    const view = await (await fetch(`${server.url}/runs/${id}`)).json();
    expect(view).toMatchObject({ status: 'idle', step: target });
  }, 300_000);

  it('SIGTERM during a slice: a checkpoint within the grace period, lease released, exit 0', async () => {
    server ??= await start();
    const before = await expectCommittedLatest(store, id);
    const res = await fetch(`${server.url}/runs/${id}/train`, sse({ maxSeconds: 120, checkpointSeconds: 120 }));
    const stream = drainSse(res);
    await waitFor('progress past the last checkpoint', () => stream.events.some((e) => e.event === 'progress' && JSON.parse(e.data).step > before + 5), 30_000, 20);
    const t0 = Date.now();
    server.kill('SIGTERM');
    const exit = await server.exited;
    const took = Date.now() - t0;
    server = undefined;
    await stream.done;
    expect(exit.code).toBe(0);
    expect(took).toBeLessThan(10_000 + 1_000); // the default grace period, plus process teardown slack
    const done = stream.events.find((e) => e.event === 'done');
    expect(done).toBeDefined();
    const summary = JSON.parse(done!.data);
    expect(summary.stopReason).toBe('shutdown');
    const latest = await expectCommittedLatest(store, id);
    expect(latest).toBe(summary.checkpointStep);
    expect(latest).toBeGreaterThan(before + 5);
    const committedAt = Date.parse((await store.readPointer(id, 'latest'))!.committedAt);
    expect(committedAt).toBeGreaterThanOrEqual(t0 - 50);
    expect(committedAt - t0).toBeLessThan(10_000);
    expect(await store.readLease(id)).toBeNull();
    expect((await store.getRun(id))!.step).toBe(latest);
  });
});

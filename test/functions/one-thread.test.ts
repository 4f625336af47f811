// The native backends' thread layout (threads.ts: exactly one thread of the process uses tfjs),
// run for real on wasm with CHARRNN_ONE_TFJS_THREAD=1: the container entry as a process, a training
// slice in-process with 4 sample streams at once, no worker thread ever started, /healthz answered
// throughout, and SIGTERM still checkpoints. A preload counts threads and sees tfjs (cold.test.ts's).
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { readSse } from '../../functions/client.ts';
import { openRunStore } from '../../shared/store/index.ts';
import { spawnServerProcess, type ServerProcess } from '../support/server-process.ts';
import { json, sse, tempStore } from './helpers.ts';

const PROBE = fileURLToPath(new URL('../cli/load-probe.mjs', import.meta.url));
const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});

describe('one tfjs thread (the native backends’ layout, on wasm)', () => {
  it('trains in-process and samples on the main thread, starts no thread, keeps /healthz answering, and checkpoints on SIGTERM', async () => {
    const store = await tempStore();
    cleanups.push(store.cleanup);
    const srv: ServerProcess = await spawnServerProcess({ CHARRNN_STORE: store.url, CHARRNN_BACKEND: 'wasm', CHARRNN_ONE_TFJS_THREAD: '1' }, 60_000, ['--import', PROBE]);
    cleanups.push(() => srv.stop());
    const health = (await (await fetch(`${srv.url}/healthz`)).json()) as Record<string, unknown>;
    expect(health).toMatchObject({ ok: true, ready: true, backend: 'wasm' });

    expect((await fetch(`${srv.url}/runs`, json({ id: 'one', corpus: 'names', config: { preset: 'tiny', evalEvery: 20 } }))).status).toBe(201);
    expect((await fetch(`${srv.url}/runs/one/train`, json({ steps: 40 }))).status).toBe(200);

    // A slice and four sample streams at once, with /healthz polled every 50 ms throughout.
    let longestGap = 0;
    let polling = true;
    const poller = (async () => {
      let last = performance.now();
      while (polling) {
        const res = await fetch(`${srv.url}/healthz`);
        expect(res.status).toBe(200);
        const now = performance.now();
        longestGap = Math.max(longestGap, now - last);
        last = now;
        await new Promise((r) => setTimeout(r, 50));
      }
    })();
    const slice = fetch(`${srv.url}/runs/one/train`, sse({ maxSeconds: 60 }));
    const samples = Promise.all(
      [1, 2, 3, 4].map(async (seed) => {
        const res = await fetch(`${srv.url}/runs/one/sample`, json({ length: 400, seed, checkpoint: 40 }));
        expect(res.status).toBe(200);
        return ((await res.json()) as { text: string }).text;
      }),
    );
    const texts = await samples;
    expect(texts.map((t) => [...t].length)).toEqual([400, 400, 400, 400]);

    // Shut down mid-slice: the in-process loop stops, checkpoints, and the process exits 0.
    const res = await slice;
    const events = readSse(res)[Symbol.asyncIterator]();
    let progressed = 0;
    while (progressed < 5) if ((await events.next()).value?.event === 'progress') progressed++;
    polling = false;
    await poller;
    srv.kill('SIGTERM');
    let done: Record<string, unknown> | null = null;
    for (let ev = await events.next(); !ev.done; ev = await events.next()) if (ev.value.event === 'done') done = JSON.parse(ev.value.data);
    expect(await srv.exited).toEqual({ code: 0, signal: null });
    expect(done).toMatchObject({ stopReason: 'shutdown' });
    const latest = await openRunStore(store.url).readPointer('one', 'latest');
    expect(latest?.step).toBe(done!.checkpointStep);
    expect(latest!.step).toBeGreaterThan(40);

    const probe = JSON.parse(/^LOAD-PROBE (.*)$/m.exec(srv.stderr())![1]) as { tfjs: boolean; workers: number };
    expect(probe).toEqual({ tfjs: true, workers: 0 });
    // 108 ms on this machine with other tests running beside it; the bound leaves room for a busier CI.
    expect(longestGap, `longest /healthz gap ${longestGap.toFixed(0)} ms`).toBeLessThan(500);
  });
});

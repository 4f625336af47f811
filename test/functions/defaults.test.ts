// The HTTP route as curl users call it, with nothing tuned: the container entry as a real process,
// a run with no config (default preset, evalEvery), a 30 s slice with the default checkpointSeconds
// (30) and lease (60 s, renewed every 20 s). The checkpoint and slice defaults meet at the slice's
// end: best must still be the lowest validation.
import { afterAll, describe, expect, it } from 'vitest';
import { readSse } from '../../functions/client.ts';
import { openRunStore } from '../../shared/store/index.ts';
import { expectBestIsMinimum } from '../support/best.ts';
import { spawnServerProcess, type ServerProcess } from '../support/server-process.ts';
import { json, sse, tempStore } from './helpers.ts';

const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});

describe('POST /runs/:id/train with the shipped defaults', () => {
  it('leaves best.json on the lowest validation, mirrored in the run and the summary; best samples', async () => {
    const store = await tempStore();
    cleanups.push(store.cleanup);
    const srv: ServerProcess = await spawnServerProcess({ CHARRNN_STORE: store.url });
    cleanups.push(() => srv.stop());

    expect((await fetch(`${srv.url}/runs`, json({ id: 'plain', corpus: 'moby-dick' }))).status).toBe(201);
    const res = await fetch(`${srv.url}/runs/plain/train`, sse({ maxSeconds: 30 }));
    expect(res.status).toBe(200);
    const progress: { valLoss?: number }[] = [];
    let done: Record<string, unknown> | null = null;
    // The default lease (60 s) is renewed every 20 s: a 30 s slice renews it once at least.
    const leases = new Set<number>();
    const watch = setInterval(() => void openRunStore(store.url).readLease('plain').then((l) => l && leases.add(l.expiresAt)), 1000);
    try {
      for await (const ev of readSse(res)) {
        if (ev.event === 'progress') progress.push(JSON.parse(ev.data));
        if (ev.event === 'done') done = JSON.parse(ev.data);
      }
    } finally {
      clearInterval(watch);
    }
    expect(leases.size, 'lease expiries seen during the slice').toBeGreaterThanOrEqual(2);
    expect(done).toMatchObject({ stopReason: 'seconds' });
    const best = await expectBestIsMinimum(store.url, 'plain');
    expect(done!.bestValLoss).toBe(best.valLoss);
    // The stream showed every validation, and best is the lowest of them.
    expect(Math.min(...progress.map((p) => p.valLoss ?? Infinity))).toBe(best.valLoss);

    const run = (await (await fetch(`${srv.url}/runs/plain`)).json()) as { bestValLoss: number; step: number };
    expect(run.bestValLoss).toBe(best.valLoss);
    const sample = await fetch(`${srv.url}/runs/plain/sample`, json({ length: 60, seed: 3, checkpoint: 'best' }));
    expect(sample.status).toBe(200);
    expect(await sample.json()).toMatchObject({ step: best.step, checkpoint: 'best' });
  });
});

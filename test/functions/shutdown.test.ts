// The container entry (functions/main.ts) as a real process: SIGTERM during a slice makes the
// worker checkpoint, the lease is released, the client gets `done` (stopReason shutdown), exit 0.
import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { readSse } from '../../functions/client.ts';
import { openRunStore } from '../../shared/store/index.ts';
import { json, sse, useTempStore, TINY } from './helpers.ts';

const store = useTempStore();

describe('SIGTERM', () => {
  it('checkpoints the running slice, releases its lease and exits 0 within the grace period', async () => {
    const env: NodeJS.ProcessEnv = { ...process.env, PORT: '0', HOST: '127.0.0.1', CHARRNN_STORE: store.url, CHARRNN_SHUTDOWN_GRACE_SECONDS: '10' };
    delete env.CHARRNN_API_TOKEN;
    delete env.NODE_OPTIONS;
    const child = spawn(process.execPath, ['--import', 'tsx', 'functions/main.ts'], { cwd: process.cwd(), env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    const base = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`server did not start: ${stderr}`)), 30_000);
      child.stderr.setEncoding('utf8').on('data', (d: string) => {
        stderr += d;
        const m = /listening on (http:\/\/\S+)/.exec(stderr);
        if (m) {
          clearTimeout(timer);
          resolve(m[1]);
        }
      });
    });
    try {
      expect((await fetch(`${base}/runs`, json({ corpus: 'names', id: 'term', config: TINY }))).status).toBe(201);
      const res = await fetch(`${base}/runs/term/train`, sse({ maxSeconds: 120, checkpointSeconds: 120 }));
      const events: { event: string; data: string }[] = [];
      const reading = (async () => {
        try {
          for await (const ev of readSse(res)) events.push(ev);
        } catch {
          // the server closes the socket as it exits
        }
      })();
      while (events.filter((e) => e.event === 'progress').length < 3) await new Promise((r) => setTimeout(r, 50));

      const t0 = Date.now();
      child.kill('SIGTERM');
      const code = await exited;
      const took = Date.now() - t0;
      await reading;
      expect(code).toBe(0);
      expect(took).toBeLessThan(10_000);
      const done = events.find((e) => e.event === 'done');
      expect(done).toBeDefined();
      const summary = JSON.parse(done!.data);
      expect(summary.stopReason).toBe('shutdown');
      expect(summary.checkpointStep).toBeGreaterThan(0);

      const runs = openRunStore(store.url);
      const run = await runs.getRun('term');
      expect(run).toMatchObject({ status: 'idle', step: summary.checkpointStep });
      expect(await runs.readLease('term')).toBeNull();
      expect((await runs.loadCheckpoint('term', 'latest'))?.step).toBe(summary.checkpointStep);
    } finally {
      child.kill('SIGKILL');
    }
  });
});

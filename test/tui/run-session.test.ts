// The slice chain on its own (no UI) against a real server that goes away mid-run and comes
// back on the same port and store: the run carries on from its checkpoint.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { Api } from '../../tui/api.ts';
import { RunSession, type RunSessionState } from '../../tui/run-session.ts';

const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});

async function until(session: RunSession, test: (s: RunSessionState) => boolean, what: string, timeoutMs = 60_000): Promise<RunSessionState> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const s = session.getState();
    if (test(s)) return s;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; state: ${JSON.stringify({ ...s, points: s.points.length })}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('RunSession', () => {
  it('survives the server going away between slices and resumes from the checkpoint', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'charrnn-tui-trainer-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const storeUrl = pathToFileURL(join(dir, 'store')).href;
    const { startServer } = await import('../../functions/server.ts');
    const first = await startServer({ port: 0, host: '127.0.0.1', storeUrl, token: '', log: () => {} });
    const api = new Api(first.url);
    await api.createRun({ id: 'survivor', corpus: 'names', config: { preset: 'tiny', seqLen: 16, batchSize: 8 } });

    const session = new RunSession(api, 'survivor', { sliceSeconds: 1, notifyMs: 10 });
    cleanups.push(async () => session.dispose());
    await session.load();
    const chain = session.start(null);
    await until(session, (s) => s.slices >= 1, 'a first slice');

    // The instance goes away (its slice checkpoints on shutdown)…
    await first.close(5000);
    const retrying = await until(session, (s) => /Retrying in/.test(s.note ?? ''), 'a retry notice');
    expect(retrying.phase).toBe('training');
    // Refused if the next slice starts after the close; reset if it was already on the wire.
    expect(retrying.note).toMatch(/^Cannot reach http:\/\/127\.0\.0\.1:\d+ \((ECONNREFUSED|ECONNRESET)\)/);
    const stepBefore = (await (async () => {
      const { openRunStore } = await import('../../shared/store/index.ts');
      return openRunStore(storeUrl).getRun('survivor');
    })())!.step;
    expect(stepBefore).toBeGreaterThan(0);

    // …and another comes up on the same address and store: the chain carries on.
    const second = await startServer({ port: first.port, host: '127.0.0.1', storeUrl, token: '', log: () => {} });
    cleanups.push(() => second.close(5000));
    const slicesAtRestart = session.getState().slices;
    const resumed = await until(session, (s) => s.slices >= slicesAtRestart + 1 && s.note === null, 'a slice on the new server');
    expect(resumed.summary!.step).toBeGreaterThan(stepBefore);
    expect(resumed.error).toBeNull();

    session.stop();
    await chain;
    const final = session.getState();
    expect(final.phase).toBe('idle');
    expect((await api.getRun('survivor')).step).toBe(final.summary!.checkpointStep);
  });
});

// Resource caps set by environment variables (CHARRNN_MAX_*) on a real server process, so one
// request cannot exhaust the instance: each cap answers a clear 4xx (or 429) naming the limit.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readSse } from '../../functions/client.ts';
import { tempStore } from '../functions/helpers.ts';
import { spawnServerProcess, type ServerProcess } from '../support/server-process.ts';
import { json, sse, TINY } from './helpers.ts';

let dir: Awaited<ReturnType<typeof tempStore>>;
let server: ServerProcess;
const post = (p: string, body: unknown, init: RequestInit = json(body)) => fetch(`${server.url}${p}`, init);

beforeAll(async () => {
  dir = await tempStore();
  server = await spawnServerProcess({
    CHARRNN_STORE: dir.url,
    CHARRNN_MAX_LAYERS: '1',
    CHARRNN_MAX_HIDDEN: '64',
    CHARRNN_MAX_PARAMS: '15000', // TINY (1×32) fits, 1×64 does not
    CHARRNN_MAX_STEPS_PER_SLICE: '40',
    CHARRNN_MAX_SLICE_SECONDS: '1',
    CHARRNN_MAX_SAMPLE_LENGTH: '3000',
    CHARRNN_MAX_SAMPLE_STREAMS: '2',
    CHARRNN_MAX_BODY_BYTES: '4096',
  });
  expect((await post('/runs', { corpus: 'names', id: 'cap', config: TINY })).status).toBe(201);
  expect((await post('/runs/cap/train', { steps: 20 })).status).toBe(200);
});
afterAll(async () => {
  await server?.stop();
  await dir?.cleanup();
});

async function expectLimit(res: Response, status: number, says: RegExp) {
  const body = await res.json();
  expect(res.status, JSON.stringify(body)).toBe(status);
  expect(body.error.message).toMatch(says);
}

describe('per-instance caps from the environment', () => {
  it('model size: layers, hidden size and parameter count', async () => {
    await expectLimit(await post('/runs', { corpus: 'names', config: { ...TINY, layers: 2 } }), 400, /config\.layers: 2 exceeds this server's limit of 1/);
    await expectLimit(await post('/runs', { corpus: 'names', config: { ...TINY, hidden: 128 } }), 400, /config\.hidden: 128 exceeds this server's limit of 64/);
    await expectLimit(await post('/runs', { corpus: 'names', config: { ...TINY, hidden: 64 } }), 400, /parameters exceeds this server's limit of 15000/);
  });

  it('steps per slice, and a slice never outlives CHARRNN_MAX_SLICE_SECONDS', async () => {
    await expectLimit(await post('/runs/cap/train', { steps: 41 }), 400, /steps: 41 exceeds this server's limit of 40 per slice/);
    const res = await post('/runs/cap/train', { maxSeconds: 3600 });
    expect(res.status).toBe(200);
    const summary = await res.json();
    expect(summary.stopReason).toBe('seconds');
    expect(summary.seconds).toBeLessThan(1.5);
  });

  it('sample length', async () => {
    await expectLimit(await post('/runs/cap/sample', { length: 3001 }), 400, /length: 3001 exceeds this server's limit of 3000/);
  });

  it('request body size', async () => {
    await expectLimit(await post('/runs', { corpus: { text: 'ab '.repeat(2000) } }), 413, /request body exceeds 4 KB/);
    await expectLimit(
      await post('/corpora', null, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'ab '.repeat(2000) }),
      413,
      /corpus exceeds 4 KB/,
    );
  });

  it('concurrent sample streams: the third gets 429, and a slot frees when a stream ends', async () => {
    const aborts = [new AbortController(), new AbortController()];
    const open = await Promise.all(aborts.map((a) => fetch(`${server.url}/runs/cap/sample`, { ...sse({ length: 3000 }), signal: a.signal })));
    try {
      for (const res of open) {
        expect(res.status).toBe(200);
        await readSse(res)[Symbol.asyncIterator]().next(); // streaming now
      }
      await expectLimit(await post('/runs/cap/sample', { length: 5 }), 429, /already serving 2 samples; retry shortly/);
    } finally {
      for (const a of aborts) a.abort();
    }
    let status = 0;
    for (let i = 0; i < 50 && status !== 200; i++) {
      status = (await post('/runs/cap/sample', { length: 5 })).status;
      if (status !== 200) await new Promise((r) => setTimeout(r, 100));
    }
    expect(status).toBe(200);
  });
});

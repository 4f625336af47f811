// The same create → train → sample flow against the S3 store on a local s3rver over HTTP,
// and a store that cannot be reached answering 503.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type RunningServer } from '../../functions/server.ts';
import { RunStore } from '../../shared/store/index.ts';
import { S3ObjectStore } from '../../shared/store/s3-store.ts';
import { startS3Server, type S3TestServer } from '../support/s3server.ts';
import { collectSse, json, sse, TINY } from './helpers.ts';

let s3: S3TestServer;
let server: RunningServer;
/** The server's log, shown when a slice fails (it names what the store said). */
const logged: string[] = [];

beforeAll(async () => {
  s3 = await startS3Server();
  const store = new RunStore(new S3ObjectStore(s3.storeUrl('functions-test'), { clientConfig: s3.clientConfig }));
  server = await startServer({ port: 0, store, token: '', log: (m) => logged.push(m) });
});
afterAll(async () => {
  await server?.close();
  await s3?.stop();
});

describe('on S3 (s3rver)', () => {
  it('creates, trains two slices, samples, and reads metrics', async () => {
    const url = (p: string) => `${server.url}${p}`;
    expect((await fetch(url('/runs'), json({ corpus: 'names', id: 's3-run', config: TINY }))).status).toBe(201);
    const events = await collectSse(await fetch(url('/runs/s3-run/train'), sse({ steps: 20 })));
    expect(events.at(-1)!.event, `${events.at(-1)!.data}\n${logged.join('\n')}`).toBe('done');
    expect(JSON.parse(events.at(-1)!.data)).toMatchObject({ step: 20, checkpointStep: 20 });
    const second = await (await fetch(url('/runs/s3-run/train'), json({ steps: 10 }))).json();
    expect(second).toMatchObject({ step: 30, steps: 10 });

    const sample = await (await fetch(url('/runs/s3-run/sample'), json({ length: 100, seed: 5 }))).json();
    expect([...sample.text].length).toBe(100);
    expect(sample.step).toBe(30);
    const streamed = await collectSse(await fetch(url('/runs/s3-run/sample'), sse({ length: 100, seed: 5 })));
    expect(streamed.filter((e) => e.event === 'message').map((e) => JSON.parse(e.data).text).join('')).toBe(sample.text);

    const { points } = await (await fetch(url('/runs/s3-run/metrics'))).json();
    expect(points.at(-1).step).toBe(30);
    const list = await (await fetch(url('/runs'))).json();
    expect(list.runs.map((r: { id: string }) => r.id)).toContain('s3-run');
  });

  it('answers 503 (one line, no stack) when the store is unreachable', async () => {
    const dead = new RunStore(
      new S3ObjectStore('s3://nowhere/prefix', {
        clientConfig: { ...s3.clientConfig, endpoint: 'http://127.0.0.1:9', maxAttempts: 1 },
      }),
    );
    const down = await startServer({ port: 0, store: dead, token: '', log: () => {} });
    try {
      const res = await fetch(`${down.url}/runs`);
      expect(res.status).toBe(503);
      const { error } = await res.json();
      expect(error.code).toBe('store_unavailable');
      expect(error.message).not.toMatch(/\n/);
      expect((await fetch(`${down.url}/healthz`)).status).toBe(200);
    } finally {
      await down.close();
    }
  });
});

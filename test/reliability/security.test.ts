// Security, against the real server process: with CHARRNN_API_TOKEN set every route but /healthz
// answers 401 to a missing or wrong token (compared as equal-length digests, constant time); the
// token never shows in the log, error bodies or the OpenAPI document; and hostile ids, names and
// corpus refs never put a key outside the store's prefix (S3) or directory (file store).
import { randomBytes } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempStore } from '../functions/helpers.ts';
import { startS3Server, type S3TestServer } from '../support/s3server.ts';
import { spawnServerProcess, type ServerProcess } from '../support/server-process.ts';
import { json, TINY } from './helpers.ts';

const TOKEN = `tok-${randomBytes(16).toString('hex')}`;
const auth = { authorization: `Bearer ${TOKEN}` };
const PREFIX = 'tenant-a/';

let s3: S3TestServer;
let server: ServerProcess;
let files: Awaited<ReturnType<typeof tempStore>>;
let fileServer: ServerProcess;

beforeAll(async () => {
  s3 = await startS3Server();
  files = await tempStore();
  [server, fileServer] = await Promise.all([
    spawnServerProcess({ ...s3.env, CHARRNN_STORE: s3.storeUrl(PREFIX), CHARRNN_API_TOKEN: TOKEN }),
    spawnServerProcess({ CHARRNN_STORE: `${files.url}/store`, CHARRNN_API_TOKEN: TOKEN }),
  ]);
});
afterAll(async () => {
  await Promise.all([server?.stop(), fileServer?.stop()]);
  await s3?.stop();
  await files?.cleanup();
});

/** Every operation of the OpenAPI document, with its path params filled in. */
async function operations(base: string): Promise<{ method: string; path: string }[]> {
  const doc = await (await fetch(`${base}/openapi.json`, { headers: auth })).json();
  return Object.entries(doc.paths as Record<string, Record<string, unknown>>).flatMap(([p, ops]) =>
    Object.keys(ops).map((method) => ({ method: method.toUpperCase(), path: p.replace(/\{[^}]+\}/g, 'some-run') })),
  );
}

describe('bearer token', () => {
  it('every route but /healthz rejects a missing, wrong, or wrong-length token with 401', async () => {
    const ops = await operations(server.url);
    expect(ops.length).toBeGreaterThanOrEqual(9);
    const wrong = [undefined, `Bearer ${TOKEN.slice(0, -1)}x`, `Bearer ${TOKEN}extra`, 'Bearer x', `Basic ${TOKEN}`, TOKEN];
    for (const op of [...ops, { method: 'GET', path: '/openapi.json' }, { method: 'GET', path: '/no-such-route' }]) {
      for (const header of wrong) {
        const res = await fetch(`${server.url}${op.path}`, {
          method: op.method,
          headers: { 'content-type': 'application/json', ...(header ? { authorization: header } : {}) },
          ...(op.method === 'POST' ? { body: '{}' } : {}),
        });
        const expected = op.path === '/healthz' ? 200 : 401;
        expect(res.status, `${op.method} ${op.path} with ${header ?? 'no header'}`).toBe(expected);
        const text = await res.text();
        expect(text).not.toContain(TOKEN);
        if (expected === 401) expect(JSON.parse(text).error.code).toBe('unauthorized');
      }
    }
    expect((await fetch(`${server.url}/runs`, { headers: auth })).status).toBe(200);
  });

  it('answers 401, not 500, to tokens of any length (hashed to equal length before the compare: auth.test.ts)', async () => {
    for (const t of ['x', 'y'.repeat(10_000)]) expect((await fetch(`${server.url}/runs`, { headers: { authorization: `Bearer ${t}` } })).status).toBe(401);
  });

  it('never writes the token to the log, an error, or the OpenAPI document', async () => {
    // Provoke errors (validation, not found, a store failure on a missing corpus) while authenticated.
    await fetch(`${server.url}/runs`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: '{bad json' });
    await fetch(`${server.url}/runs/nope/train`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: '{}' });
    const bad = await fetch(`${server.url}/runs`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify({ corpus: `sha256:${'a'.repeat(64)}` }) });
    expect(await bad.text()).not.toContain(TOKEN);
    const doc = await (await fetch(`${server.url}/openapi.json`, { headers: auth })).text();
    expect(doc).toContain('bearer');
    expect(doc).not.toContain(TOKEN);
    expect(server.stderr()).toMatch(/auth on/);
    expect(server.stderr()).not.toContain(TOKEN);
    expect(fileServer.stderr()).not.toContain(TOKEN);
  });
});

/** Requests that try to reach outside the store through ids, names and corpus refs. */
async function hostileRequests(base: string) {
  const h = { ...auth, 'content-type': 'application/json' };
  const post = (p: string, body: unknown) => fetch(`${base}${p}`, { method: 'POST', headers: h, body: JSON.stringify(body) });
  const statuses: number[] = [];
  const ids = ['../escape', '..', '.hidden', 'a/../../b', 'a\\..\\b', 'a\u0000b', '%2e%2e', 'x'.repeat(300), '/abs', 'C:evil'];
  for (const id of ids) statuses.push((await post('/runs', { corpus: 'names', id, config: TINY })).status);
  for (const p of ['..%2F..%2Fescape', '%2E%2E%2Fescape', 'a%5C..%5Cb', '..%5c..%5cescape', 'a%00b']) {
    statuses.push((await post(`/runs/${p}/train`, { steps: 1 })).status);
    statuses.push((await fetch(`${base}/runs/${p}`, { method: 'DELETE', headers: auth })).status);
  }
  for (const corpus of ['sha256:../../../etc/passwd', `sha256:${'0'.repeat(63)}/`, '../names', 'builtin:../../x']) {
    statuses.push((await post('/runs', { corpus, config: TINY })).status);
  }
  // A run *name* may be anything: it lives inside run.json, and the id derived from it is runIdFromName (shared/run-id.ts).
  const named = await post('/runs', { corpus: { text: 'abcdefghij '.repeat(300), name: '../../corpus-name' }, name: '../../../etc/passwd', config: TINY });
  expect(named.status).toBe(201);
  expect((await named.json()).id).toBe('etc-passwd');
  return statuses;
}

describe('nothing escapes the store prefix', () => {
  it('S3: every key in the whole bucket stays under the configured prefix', async () => {
    const statuses = await hostileRequests(server.url);
    expect(statuses.filter((s) => s < 400 || s >= 500), `statuses ${statuses}`).toEqual([]);
    const client = new S3Client(s3.clientConfig);
    const keys: string[] = [];
    let token: string | undefined;
    do {
      const page = await client.send(new ListObjectsV2Command({ Bucket: s3.bucket, ContinuationToken: token }));
      keys.push(...(page.Contents ?? []).map((o) => o.Key!));
      token = page.NextContinuationToken;
    } while (token);
    client.destroy();
    expect(keys.length).toBeGreaterThan(0);
    for (const key of keys) {
      expect(key.startsWith(PREFIX)).toBe(true);
      expect(key.split('/')).not.toContain('..');
    }
    expect(keys.filter((k) => k.startsWith(`${PREFIX}runs/`)).map((k) => k.split('/')[2])).toEqual(expect.arrayContaining(['etc-passwd']));
    expect(new Set(keys.filter((k) => k.startsWith(`${PREFIX}runs/`)).map((k) => k.split('/')[2]))).toEqual(new Set(['etc-passwd']));
  });

  it('file store: nothing is written outside its directory', async () => {
    const statuses = await hostileRequests(fileServer.url);
    expect(statuses.filter((s) => s < 400 || s >= 500), `statuses ${statuses}`).toEqual([]);
    const top = await readdir(files.dir);
    expect(top).toEqual(['store']); // the parent directory holds only the store
    const all = (await readdir(path.join(files.dir, 'store'), { recursive: true })) as string[];
    expect(all.filter((p) => p.startsWith(`runs${path.sep}`)).map((p) => p.split(path.sep)[1])).toSatisfy((ids: string[]) => ids.every((i) => i === 'etc-passwd'));
  });
});

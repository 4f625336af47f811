// S3 specifics, against a real s3rver over HTTP. s3rver does NOT enforce If-None-Match/If-Match
// on writes, so for conditional requests we assert what goes on the wire (captured from the
// SDK's own middleware stack after signing; the requests still reach s3rver) and leave the
// semantics to the file-store tests. Everything else here is real behaviour.
import { createServer as createHttpServer } from 'node:http';
import { createServer, type Socket } from 'node:net';
import { randomBytes } from 'node:crypto';
import { S3Client, PutObjectCommand, GetObjectCommand } from '@aws-sdk/client-s3';
import { afterEach, describe, expect, it } from 'vitest';
import { readStoreSettings } from '../../functions/settings.ts';
import { openObjectStore, openRunStore } from '../../shared/store/open.ts';
import { S3ObjectStore, s3ClientConfig } from '../../shared/store/s3-store.ts';
import { StoreUnavailableError } from '../../shared/store/types.ts';
import { captureRequests, openS3Store, testS3Server } from './backends.ts';
import { resolveConfig } from '../../shared/engine/tf-free.ts';

const savedEnv = { ...process.env };
afterEach(() => {
  for (const key of Object.keys(process.env)) if (!(key in savedEnv)) delete process.env[key];
  Object.assign(process.env, savedEnv);
});

describe('S3 store: request shape', () => {
  it('sends If-None-Match / If-Match on conditional puts and deletes, path-style, without aws-chunked bodies', async () => {
    const store = await openS3Store();
    const server = await testS3Server();
    const { requests, stop } = captureRequests(store);
    const created = await store.put('lease.json', '{"a":1}', { ifNoneMatch: '*', contentType: 'application/json' });
    await store.put('lease.json', '{"a":2}', { ifMatch: created.etag });
    await store.put('plain.json', '{}');
    await store.delete('lease.json', { ifMatch: 'some-etag' }).catch(() => {}); // s3rver deletes regardless
    stop();

    const [create, replace, plain, del] = requests;
    expect(create.method).toBe('PUT');
    expect(create.path).toBe(`/${server.bucket}/${store.prefix}lease.json`); // path-style, under the prefix
    expect(create.headers['if-none-match']).toBe('*');
    expect(create.headers['if-match']).toBeUndefined();
    expect(create.headers['content-type']).toBe('application/json');
    expect(replace.headers['if-match']).toBe(created.etag);
    expect(replace.headers['if-none-match']).toBeUndefined();
    expect(plain.headers['if-match']).toBeUndefined();
    expect(plain.headers['if-none-match']).toBeUndefined();
    expect(del.method).toBe('DELETE');
    expect(del.headers['if-match']).toBe('some-etag');
    // Checksums only WHEN_REQUIRED: a plain signed body, no aws-chunked framing or trailers.
    for (const req of [create, replace, plain]) {
      expect(req.headers['content-encoding'] ?? '').not.toMatch(/aws-chunked/);
      expect(req.headers['x-amz-content-sha256'] ?? '').not.toMatch(/STREAMING/);
      expect(Object.keys(req.headers).filter((h) => h.startsWith('x-amz-checksum-') || h === 'x-amz-trailer')).toEqual([]);
    }
  });

  it('uploads large objects in parts and makes the completion conditional', async () => {
    const store = await openS3Store();
    const body = randomBytes(20 * 1024 * 1024);
    const { requests, stop } = captureRequests(store);
    await store.put('ckpt/weights.bin', body, { ifNoneMatch: '*' });
    stop();
    const create = requests.filter((r) => r.method === 'POST' && 'uploads' in r.query);
    const parts = requests.filter((r) => r.method === 'PUT' && 'partNumber' in r.query);
    const complete = requests.filter((r) => r.method === 'POST' && 'uploadId' in r.query);
    expect(create).toHaveLength(1);
    expect(parts).toHaveLength(3); // 8 + 8 + 4 MB
    expect(complete).toHaveLength(1);
    expect(complete[0].headers['if-none-match']).toBe('*');
    expect(requests.some((r) => r.method === 'PUT' && !('partNumber' in r.query))).toBe(false);
    expect(Buffer.from((await store.get('ckpt/weights.bin'))!.body).equals(body)).toBe(true);
  });
});

describe('S3 store: configuration from the environment', () => {
  it('the SDK itself reads AWS_ENDPOINT_URL_S3 (no endpoint passed)', async () => {
    const server = await testS3Server();
    process.env.AWS_ENDPOINT_URL_S3 = server.endpoint;
    const client = new S3Client({
      region: server.region,
      credentials: server.credentials,
      forcePathStyle: true,
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
    await client.send(new PutObjectCommand({ Bucket: server.bucket, Key: 'env-probe/x', Body: 'via env' }));
    const got = await client.send(new GetObjectCommand({ Bucket: server.bucket, Key: 'env-probe/x' }));
    expect(await got.Body!.transformToString()).toBe('via env');
    client.destroy();
  });

  it('openObjectStore works from CHARRNN_STORE + the standard AWS variables alone (read by functions/settings.ts)', async () => {
    const server = await testS3Server();
    Object.assign(process.env, server.env);
    const store = openObjectStore(server.storeUrl('from-env/'), readStoreSettings().s3);
    await store.put('k.txt', 'hello');
    expect(Buffer.from((await store.get('k.txt'))!.body).toString()).toBe('hello');
    expect(store.url).toBe(`s3://${server.bucket}/from-env/`);

    const runs = openRunStore({ ...readStoreSettings(), url: server.storeUrl('from-env-runs') });
    const now = new Date().toISOString();
    await runs.createRun({ id: 'e1', name: 'e1', corpus: 'builtin:moby-dick', corpusName: 'Moby Dick', ...resolveConfig(), status: 'idle', step: 0, epoch: 0, latestValLoss: null, bestValLoss: null, createdAt: now, updatedAt: now });
    await runs.saveCheckpoint('e1', 5, { 'weights.bin': new Uint8Array([1, 2, 3]) }, { valLoss: 1, epoch: 0 });
    expect((await runs.listRuns()).map((r) => r.id)).toEqual(['e1']);
    expect((await runs.listCheckpoints('e1')).map((p) => p.step)).toEqual([5]);
    expect([...(await runs.loadCheckpoint('e1', 'latest'))!.files['weights.bin']]).toEqual([1, 2, 3]);
  });

  it('chooses the endpoint and path-style addressing as documented', () => {
    expect(s3ClientConfig({})).toMatchObject({ forcePathStyle: false, maxAttempts: 3, requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED' });
    expect(s3ClientConfig({}).endpoint).toBeUndefined();
    const fromEnv = (env: Record<string, string>) => s3ClientConfig(readStoreSettings(env).s3);
    expect(fromEnv({})).toMatchObject({ forcePathStyle: false });
    expect(fromEnv({}).endpoint).toBeUndefined();
    expect(fromEnv({ CHARRNN_S3_FORCE_PATH_STYLE: '1' }).forcePathStyle).toBe(true);
    expect(fromEnv({ AWS_ENDPOINT_URL: 'http://a:1' })).toMatchObject({ endpoint: 'http://a:1', forcePathStyle: true });
    expect(fromEnv({ AWS_ENDPOINT_URL: 'http://a:1', AWS_ENDPOINT_URL_S3: 'http://s3:2' }).endpoint).toBe('http://s3:2');
  });
});

describe('S3 store: failures', () => {
  it('an unreachable S3 (connection refused) fails at once with StoreUnavailableError naming the store', async () => {
    const port = await new Promise<number>((resolve) => {
      const srv = createServer().listen(0, '127.0.0.1', () => {
        const { port } = srv.address() as { port: number };
        srv.close(() => resolve(port));
      });
    });
    const store = new S3ObjectStore('s3://charrnn-dead/p', {
      clientConfig: { endpoint: `http://127.0.0.1:${port}`, region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'y' } },
    });
    const err = await store.put('k', 'v').then(() => null, (e: unknown) => e);
    expect(err).toBeInstanceOf(StoreUnavailableError);
    expect((err as Error).message).toMatch(/^S3 store s3:\/\/charrnn-dead\/p\/: put k failed: .*ECONNREFUSED/);
  });

  it('an S3 that accepts connections but never answers fails within ~15 s, not minutes', async () => {
    const sockets: Socket[] = [];
    const srv = createServer((socket) => {
      sockets.push(socket);
      socket.on('error', () => {});
    });
    await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
    const { port } = srv.address() as { port: number };
    try {
      const store = new S3ObjectStore('s3://charrnn-hung/p', {
        clientConfig: { endpoint: `http://127.0.0.1:${port}`, region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'y' } },
      });
      const started = Date.now();
      const err = await store.get('k').then(() => null, (e: unknown) => e);
      const elapsed = Date.now() - started;
      expect(err).toBeInstanceOf(StoreUnavailableError);
      expect((err as Error).message).toMatch(/^S3 store s3:\/\/charrnn-hung\/p\/: get k failed: TimeoutError/);
      expect(sockets.length).toBe(3); // bounded retries: 3 attempts
      expect(elapsed).toBeLessThan(20_000); // 3 x 5 s idle timeout, plus slack for a busy machine
    } finally {
      for (const s of sockets) s.destroy();
      srv.close();
    }
  });

  it('a 5xx that persists through the retries becomes StoreUnavailableError with the status', async () => {
    let hits = 0;
    const srv = createHttpServer((req, res) => {
      hits++;
      req.resume();
      res.writeHead(503, { 'content-type': 'application/xml' }).end('<Error><Code>SlowDown</Code><Message>busy</Message></Error>');
    });
    await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = srv.address() as { port: number };
      const store = new S3ObjectStore('s3://charrnn-busy/p', {
        clientConfig: { endpoint: `http://127.0.0.1:${port}`, region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'y' } },
      });
      const err = await store.put('k', 'v').then(() => null, (e: unknown) => e);
      expect(err).toBeInstanceOf(StoreUnavailableError);
      expect((err as Error).message).toBe('S3 store s3://charrnn-busy/p/: put k failed: SlowDown (HTTP 503)');
      expect(hits).toBe(3);
    } finally {
      srv.close();
    }
  });

  it('a missing bucket is reported as such', async () => {
    const server = await testS3Server();
    const store = new S3ObjectStore('s3://no-such-bucket/p', { clientConfig: server.clientConfig });
    await expect(store.put('k', 'v')).rejects.toThrow(/bucket no-such-bucket does not exist/);
    await expect(store.list('')).rejects.toBeInstanceOf(StoreUnavailableError);
  });
});

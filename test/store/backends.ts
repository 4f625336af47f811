// The two ObjectStore backends every store test runs against: a temp directory and a real
// s3rver over HTTP (one server per test file, a fresh prefix per store).
import { randomBytes } from 'node:crypto';
import { resolveConfig } from '../../shared/engine/tf-free.ts';
import type { RunRecord } from '../../shared/store/types.ts';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll } from 'vitest';
import { FileObjectStore } from '../../shared/store/file-store.ts';
import { S3ObjectStore } from '../../shared/store/s3-store.ts';
import type { ObjectStore } from '../../shared/store/types.ts';
import { startS3Server, type S3TestServer } from '../support/s3server.ts';

export interface Backend {
  name: 'file' | 's3';
  /** A new, empty store. */
  open(): Promise<ObjectStore>;
}

let s3: Promise<S3TestServer> | undefined;
const dirs: string[] = [];

/** The S3 server of this test file (started on first use, stopped after the file's tests). */
export function testS3Server(): Promise<S3TestServer> {
  return (s3 ??= startS3Server());
}

export async function openFileStore(): Promise<FileObjectStore> {
  const dir = await mkdtemp(path.join(tmpdir(), 'charrnn-store-'));
  dirs.push(dir);
  return new FileObjectStore(dir);
}

export async function openS3Store(): Promise<S3ObjectStore> {
  const server = await testS3Server();
  return new S3ObjectStore(server.storeUrl(`t-${randomBytes(6).toString('hex')}`), { clientConfig: server.clientConfig });
}

export const backends: Backend[] = [
  { name: 'file', open: openFileStore },
  { name: 's3', open: openS3Store },
];

afterAll(async () => {
  await Promise.all(dirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
  if (s3) await (await s3).stop();
  s3 = undefined;
});

export interface CapturedRequest {
  method: string;
  path: string;
  query: Record<string, unknown>;
  headers: Record<string, string>;
}

/**
 * Records every HTTP request the store's S3 client sends, as it goes on the wire (after
 * serialisation and signing), using the SDK's own middleware stack: no mocks, the requests
 * still reach s3rver. Returns the log and a function to stop recording.
 */
export function captureRequests(store: S3ObjectStore): { requests: CapturedRequest[]; stop(): void } {
  const requests: CapturedRequest[] = [];
  const name = `capture-${randomBytes(4).toString('hex')}`;
  store.client.middlewareStack.add(
    (next) => async (args) => {
      const req = args.request as { method: string; path: string; query: Record<string, unknown>; headers: Record<string, string> };
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(req.headers)) headers[k.toLowerCase()] = v;
      requests.push({ method: req.method, path: req.path, query: { ...req.query }, headers });
      return next(args);
    },
    { step: 'finalizeRequest', name, priority: 'low' },
  );
  return { requests, stop: () => void store.client.middlewareStack.remove(name) };
}

/** A run record as the API writes one (a 2×64 LSTM on Moby Dick), for the store's tests. */
export function record(id: string, name = id): RunRecord {
  const now = new Date().toISOString();
  return {
    id,
    name,
    corpus: 'builtin:moby-dick',
    corpusName: 'Moby Dick',
    ...resolveConfig({ cell: 'lstm', layers: 2, hidden: 64, seqLen: 50 }),
    status: 'idle',
    step: 0,
    epoch: 0,
    latestValLoss: null,
    bestValLoss: null,
    createdAt: now,
    updatedAt: now,
  };
}

// The local (file) store on a disk that fills up or turns read-only: a real, small tmpfs mounted
// for the test (we run as root, so chmod would not stop writes). Training fails with a clear 503
// that says why, the previous checkpoint stays intact and loadable, reads keep working, and once
// space is back the run trains on from that checkpoint.
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, statfs, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type RunningServer } from '../../functions/server.ts';
import { openRunStore, type RunStore } from '../../shared/store/index.ts';
import { expectCommittedLatest, expectLinearValPoints, json, TINY } from './helpers.ts';

const asRoot = (cmd: string, args: string[]) =>
  process.getuid?.() === 0 ? execFileSync(cmd, args, { stdio: 'pipe' }) : execFileSync('sudo', ['-n', cmd, ...args], { stdio: 'pipe' });
const mount = (args: string[]) => asRoot('mount', args);

let mnt: string;
let store: RunStore;
let server: RunningServer;
const filler = () => path.join(mnt, 'filler.bin');

beforeAll(async () => {
  mnt = await mkdtemp(path.join(tmpdir(), 'charrnn-tmpfs-'));
  // Needs CAP_SYS_ADMIN: root here, passwordless sudo on a CI runner. Without either this test
  // fails loudly here rather than silently testing something weaker.
  const owner = process.getuid?.() === 0 ? '' : `,uid=${process.getuid?.()},gid=${process.getgid?.()}`; // writable without root
  mount(['-t', 'tmpfs', '-o', `size=3m${owner}`, 'tmpfs', mnt]);
  const url = pathToFileURL(path.join(mnt, 'store')).href;
  store = openRunStore(url);
  server = await startServer({ port: 0, store: openRunStore(url), token: '', log: () => {} });
  expect((await fetch(`${server.url}/runs`, json({ corpus: 'names', id: 'd', config: TINY }))).status).toBe(201);
  expect((await fetch(`${server.url}/runs/d/train`, json({ steps: 10 }))).status).toBe(200);
});
afterAll(async () => {
  await server?.close();
  if (mnt) {
    try {
      asRoot('umount', [mnt]);
    } catch {
      /* not mounted */
    }
    await rm(mnt, { recursive: true, force: true });
  }
});

async function fillDisk(leaveBytes: number) {
  const st = await statfs(mnt);
  const free = Number(st.bavail) * Number(st.bsize);
  await writeFile(filler(), Buffer.alloc(Math.max(0, free - leaveBytes)));
}

async function expectCleanFailure(res: Response, says: RegExp) {
  const body = await res.json();
  expect(res.status, JSON.stringify(body)).toBe(503);
  expect(body.error.code).toBe('store_unavailable');
  expect(body.error.message).toMatch(says);
  expect(body.error.message).not.toMatch(/\n|\/tmp\//); // one line, no server paths
}

describe('local store out of space or read-only', () => {
  it('disk full mid-slice: a clear 503, the previous checkpoint intact, then trains on when space is back', async () => {
    const before = await store.loadCheckpoint('d', 'latest');
    expect(before?.step).toBe(10);
    await fillDisk(48 * 1024); // room for the lease and run.json, not for a checkpoint
    try {
      await expectCleanFailure(await fetch(`${server.url}/runs/d/train`, json({ steps: 10 })), /no space left/);
      expect(await expectCommittedLatest(store, 'd')).toBe(10);
      const after = await store.loadCheckpoint('d', 'latest');
      for (const [name, bytes] of Object.entries(before!.files)) expect(Buffer.compare(after!.files[name], bytes), name).toBe(0);
      const view = await fetch(`${server.url}/runs/d`);
      expect(view.status).toBe(200);
      expect((await view.json()).step).toBe(10);
      expect((await fetch(`${server.url}/runs/d/sample`, json({ length: 20, seed: 1 }))).status).toBe(200);
    } finally {
      await rm(filler(), { force: true });
    }
    const lease = await store.readLease('d');
    if (lease) await new Promise((r) => setTimeout(r, Math.max(0, lease.expiresAt - Date.now() + 100)));
    const res = await fetch(`${server.url}/runs/d/train`, json({ steps: 10 }));
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ step: 20, steps: 10 });
    expect(await expectCommittedLatest(store, 'd')).toBe(20);
    await expectLinearValPoints(store, 'd', 20);
  });

  it('read-only store: training is refused clearly, reads still work, nothing changes', async () => {
    const latest = await store.readPointer('d', 'latest');
    mount(['-o', 'remount,ro', mnt]);
    try {
      await expectCleanFailure(await fetch(`${server.url}/runs/d/train`, json({ steps: 10 })), /read-only/);
      await expectCleanFailure(await fetch(`${server.url}/runs`, json({ corpus: 'names', id: 'ro', config: TINY })), /read-only/);
      expect((await fetch(`${server.url}/runs/d`)).status).toBe(200);
      expect(await store.readPointer('d', 'latest')).toEqual(latest);
    } finally {
      mount(['-o', 'remount,rw', mnt]);
    }
  });
});

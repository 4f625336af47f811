// The run store's commit protocol and lease, call by call: what it refuses before writing, the
// requests it sends (conditions, content types), where a re-saved step goes, the manifest-first
// delete, how often it retries, and the lease's expiry boundary. A recording wrapper around a real
// file store sees every call; faults are injected per call. Written to kill the mutants StrykerJS
// found alive (TESTING.md).
import { afterAll, describe, expect, it } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { FileObjectStore } from '../../shared/store/file-store.ts';
import { RunStore } from '../../shared/store/run-store.ts';
import {
  InvalidKeyError,
  LeaseConflictError,
  PreconditionFailedError,
  RunNotFoundError,
  StoreUnavailableError,
  type ObjectStore,
  type PutOptions,
} from '../../shared/store/types.ts';
import { record } from './backends.ts';

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

type Call = { op: 'put' | 'get' | 'head' | 'delete' | 'list'; key: string; opts?: PutOptions | { ifMatch?: string } };

/** A real file store that records every call; `fault` may throw instead of a call. */
class Recording implements ObjectStore {
  readonly calls: Call[] = [];
  fault: ((call: Call) => Error | null) | null = null;
  constructor(readonly inner: ObjectStore) {}
  get url() {
    return this.inner.url;
  }
  private check(call: Call): void {
    this.calls.push(call);
    const e = this.fault?.(call);
    if (e) throw e;
  }
  async put(key: string, body: Uint8Array | string, opts?: PutOptions) {
    this.check({ op: 'put', key, opts });
    return this.inner.put(key, body, opts);
  }
  async get(key: string) {
    this.check({ op: 'get', key });
    return this.inner.get(key);
  }
  async head(key: string) {
    this.check({ op: 'head', key });
    return this.inner.head(key);
  }
  async list(prefix: string) {
    this.check({ op: 'list', key: prefix });
    return this.inner.list(prefix);
  }
  async delete(key: string, opts?: { ifMatch?: string }) {
    this.check({ op: 'delete', key, opts });
    return this.inner.delete(key, opts);
  }
  puts(suffix: string) {
    return this.calls.filter((c) => c.op === 'put' && c.key.endsWith(suffix));
  }
}

async function setup(opts: { keepCheckpoints?: number; now?: () => number } = {}) {
  const dir = await mkdtemp(path.join(tmpdir(), 'charrnn-commit-'));
  dirs.push(dir);
  const objects = new Recording(new FileObjectStore(dir));
  const runs = new RunStore(objects, opts);
  await runs.createRun(record('r'));
  objects.calls.length = 0;
  return { objects, runs };
}

const files = (tag: string) => ({ 'weights.bin': new TextEncoder().encode(`w-${tag}`), 'state.json': new TextEncoder().encode(`{"tag":"${tag}"}`) });
const JSON_TYPE = { contentType: 'application/json' };

describe('saveCheckpoint', () => {
  it.each([
    ['no files', {}, InvalidKeyError, /at least one file/],
    ['a file name with a slash', { 'a/b': new Uint8Array(1) }, InvalidKeyError, /"a\/b" must be a single segment other than checkpoint\.json/],
    ['a file named like the manifest', { 'checkpoint.json': new Uint8Array(1) }, InvalidKeyError, /"checkpoint\.json" must be a single segment/],
  ])('refuses %s before writing anything', async (_what, f, type, says) => {
    const { objects, runs } = await setup();
    const err = await runs.saveCheckpoint('r', 1, f as Record<string, Uint8Array>, { valLoss: 1, epoch: 0 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(type);
    expect((err as Error).message).toMatch(says);
    expect(objects.calls.filter((c) => c.op === 'put')).toEqual([]);
  });

  it('refuses a run that does not exist, writing nothing', async () => {
    const { objects, runs } = await setup();
    await expect(runs.saveCheckpoint('ghost', 1, files('a'), { valLoss: 1, epoch: 0 })).rejects.toBeInstanceOf(RunNotFoundError);
    expect(objects.calls.filter((c) => c.op === 'put')).toEqual([]);
  });

  it('writes the manifest, best and latest as JSON, in that order, after the files', async () => {
    const { objects, runs } = await setup();
    await runs.saveCheckpoint('r', 5, files('a'), { valLoss: 2, epoch: 0.1 });
    const order = objects.calls.filter((c) => c.op === 'put').map((c) => c.key.replace('runs/r/', ''));
    expect(order.slice(0, 2).sort()).toEqual(['checkpoints/0000000005/state.json', 'checkpoints/0000000005/weights.bin']);
    expect(order.slice(2, 5)).toEqual(['checkpoints/0000000005/checkpoint.json', 'best.json', 'latest.json']);
    for (const key of ['checkpoint.json', 'best.json', 'latest.json']) expect(objects.puts(key)[0].opts).toEqual(JSON_TYPE);
  });

  it('a tie does not move best: only a strictly lower loss does', async () => {
    const { runs } = await setup();
    await runs.saveCheckpoint('r', 1, files('a'), { valLoss: 2, epoch: 0 });
    await runs.saveCheckpoint('r', 2, files('b'), { valLoss: 2, epoch: 0 });
    expect((await runs.readPointer('r', 'best'))?.step).toBe(1);
    await runs.saveCheckpoint('r', 3, files('c'), { valLoss: 1.5, epoch: 0 });
    expect((await runs.readPointer('r', 'best'))?.step).toBe(3);
    expect((await runs.getRun('r'))?.bestValLoss).toBe(1.5);
  });

  it('re-saving the step latest points at goes to a new directory and leaves the committed one alone', async () => {
    const { objects, runs } = await setup();
    await runs.saveCheckpoint('r', 7, files('first'), { valLoss: 3, epoch: 0 });
    objects.calls.length = 0;
    const again = await runs.saveCheckpoint('r', 7, files('second'), { valLoss: null, epoch: 0 });
    expect(again.files[0]).toMatch(/^checkpoints\/0000000007-[0-9a-f]{8}\//);
    expect(objects.calls.filter((c) => c.op === 'delete' && c.key.includes('/checkpoints/0000000007/'))).toEqual([]);
    const best = await runs.loadCheckpoint('r', 'best');
    expect(new TextDecoder().decode(best!.files['weights.bin'])).toBe('w-first');
    expect(new TextDecoder().decode((await runs.loadCheckpoint('r', 'latest'))!.files['weights.bin'])).toBe('w-second');
  });

  it('re-saves of one step alternate between its plain directory and one new one, so they never pile up', async () => {
    const { objects, runs } = await setup();
    await runs.saveCheckpoint('r', 7, files('1'), { valLoss: null, epoch: 0 });
    const second = await runs.saveCheckpoint('r', 7, files('2'), { valLoss: null, epoch: 0 });
    expect(second.files[0]).toMatch(/^checkpoints\/0000000007-[0-9a-f]{8}\//); // latest pointed at the plain one
    const third = await runs.saveCheckpoint('r', 7, files('3'), { valLoss: null, epoch: 0 });
    expect(third.files[0]).toMatch(/^checkpoints\/0000000007\//); // the plain one is free again: reused
    expect(new TextDecoder().decode((await runs.loadCheckpoint('r', 'latest'))!.files['weights.bin'])).toBe('w-3');
    const dirs = new Set((await objects.inner.list('runs/r/checkpoints/')).map((o) => o.key.split('/')[3]));
    expect(dirs.size).toBe(2);
  });

  it('an unreferenced leftover at the same step (a crash before its manifest) is cleared and its directory reused', async () => {
    const { objects, runs } = await setup();
    await objects.put('runs/r/checkpoints/0000000009/stale.bin', 'half');
    objects.calls.length = 0;
    const p = await runs.saveCheckpoint('r', 9, files('a'), { valLoss: 1, epoch: 0 });
    expect(p.files[0]).toMatch(/^checkpoints\/0000000009\//);
    expect(objects.calls.some((c) => c.op === 'delete' && c.key === 'runs/r/checkpoints/0000000009/stale.bin')).toBe(true);
    expect(await objects.inner.get('runs/r/checkpoints/0000000009/stale.bin')).toBeNull();
    // A leftover at another step is no business of this save (retention removes it later).
    await objects.put('runs/r/checkpoints/0000000003/other.bin', 'half');
    objects.calls.length = 0;
    await runs.saveCheckpoint('r', 4, files('b'), { valLoss: 1, epoch: 0 });
    const deletedBeforeFiles = objects.calls.slice(0, objects.calls.findIndex((c) => c.op === 'put')).filter((c) => c.op === 'delete');
    expect(deletedBeforeFiles).toEqual([]);
  });

  it('retention deletes a checkpoint manifest first, then its files', async () => {
    const { objects, runs } = await setup({ keepCheckpoints: 1 });
    await runs.saveCheckpoint('r', 1, files('a'), { valLoss: null, epoch: 0 });
    await runs.saveCheckpoint('r', 2, files('b'), { valLoss: null, epoch: 0 });
    objects.calls.length = 0;
    await runs.saveCheckpoint('r', 3, files('c'), { valLoss: null, epoch: 0 });
    const deletes = objects.calls.filter((c) => c.op === 'delete').map((c) => c.key.replace('runs/r/checkpoints/', ''));
    expect(deletes[0]).toBe('0000000002/checkpoint.json');
    expect(deletes.slice(1).sort()).toEqual(['0000000002/state.json', '0000000002/weights.bin']);
    expect((await runs.listCheckpoints('r')).map((p) => p.step)).toEqual([3]);
  });

  it('retention finishes deleting the manifest before it deletes any file (the order of calls alone is not enough)', async () => {
    const { objects, runs } = await setup({ keepCheckpoints: 1 });
    await runs.saveCheckpoint('r', 1, files('a'), { valLoss: null, epoch: 0 });
    const events: string[] = [];
    const inner = objects.delete.bind(objects);
    objects.delete = async (key, opts) => {
      const name = key.replace('runs/r/checkpoints/', '');
      events.push(`start ${name}`);
      if (name.endsWith('checkpoint.json')) await new Promise((r) => setTimeout(r, 30)); // a slow delete
      await inner(key, opts);
      events.push(`end ${name}`);
    };
    await runs.saveCheckpoint('r', 2, files('b'), { valLoss: null, epoch: 0 });
    const manifestDone = events.indexOf('end 0000000001/checkpoint.json');
    const firstFile = events.findIndex((e) => e.startsWith('start 0000000001/') && !e.endsWith('checkpoint.json'));
    expect(manifestDone).toBeGreaterThanOrEqual(0);
    expect(firstFile).toBeGreaterThan(manifestDone);
  });
});

describe('listCheckpoints and loadCheckpoint', () => {
  it('lists complete checkpoints only, by step', async () => {
    const { objects, runs } = await setup({ keepCheckpoints: 10 });
    for (const step of [12, 3, 40]) await runs.saveCheckpoint('r', step, files(String(step)), { valLoss: null, epoch: 0 });
    await objects.put('runs/r/checkpoints/0000000020/weights.bin', 'no manifest');
    await objects.put('runs/r/checkpoints/notastep/x.bin', 'ignored');
    expect((await runs.listCheckpoints('r')).map((p) => p.step)).toEqual([3, 12, 40]);
    expect(await runs.loadCheckpoint('r', 20)).toBeNull();
  });

  it('a file missing for good: three reads of the pointer, then an error naming the file', async () => {
    const { objects, runs } = await setup();
    await runs.saveCheckpoint('r', 1, files('a'), { valLoss: null, epoch: 0 });
    await objects.inner.delete('runs/r/checkpoints/0000000001/weights.bin');
    await objects.inner.delete('runs/r/checkpoints/0000000001/state.json');
    objects.calls.length = 0;
    const err = await runs.loadCheckpoint('r', 'latest').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StoreUnavailableError);
    expect((err as Error).message).toMatch(/checkpoint 1 of run r in .* is missing checkpoints\/0000000001\/(weights\.bin, checkpoints\/0000000001\/state\.json|state\.json, checkpoints\/0000000001\/weights\.bin)$/);
    expect(objects.calls.filter((c) => c.op === 'get' && c.key === 'runs/r/latest.json')).toHaveLength(3);
  });
});

describe('setBest', () => {
  it('refuses a checkpoint without its manifest, and points best (and run.json) at a complete one', async () => {
    const { objects, runs } = await setup();
    const p = await runs.saveCheckpoint('r', 1, files('a'), { valLoss: 4, epoch: 0 });
    await runs.saveCheckpoint('r', 2, files('b'), { valLoss: 3, epoch: 0 });
    const incomplete = { ...p, step: 99, files: ['checkpoints/0000000099/weights.bin'] };
    await expect(runs.setBest('r', incomplete)).rejects.toThrow(new InvalidKeyError('checkpoint 99 of run r is not a complete checkpoint'));
    expect((await runs.readPointer('r', 'best'))?.step).toBe(2);
    objects.calls.length = 0;
    await runs.setBest('r', { ...p, valLoss: 2.5 });
    expect(objects.puts('best.json')[0].opts).toEqual(JSON_TYPE);
    expect(await runs.readPointer('r', 'best')).toMatchObject({ step: 1, valLoss: 2.5 });
    expect((await runs.getRun('r'))?.bestValLoss).toBe(2.5);
  });
});

describe('lease', () => {
  it('creates lease.json only if absent, as JSON; renews and takes over only on its ETag', async () => {
    let now = 1_000_000;
    const { objects, runs } = await setup({ now: () => now });
    const a = await runs.acquireLease('r', 'a', 1000);
    expect(objects.puts('lease.json')[0].opts).toEqual({ ifNoneMatch: '*', ...JSON_TYPE });
    const renewed = await runs.renewLease(a, 1000);
    expect(objects.puts('lease.json')[1].opts).toEqual({ ifMatch: a.etag, ...JSON_TYPE });
    now += 999; // one ms before expiry: still held
    await expect(runs.acquireLease('r', 'b', 1000)).rejects.toBeInstanceOf(LeaseConflictError);
    now += 1; // at expiresAt: expired, taken over on its ETag
    objects.calls.length = 0;
    const b = await runs.acquireLease('r', 'b', 1000);
    expect(b.holder).toBe('b');
    expect(objects.puts('lease.json').map((c) => c.opts)).toEqual([{ ifNoneMatch: '*', ...JSON_TYPE }, { ifMatch: renewed.etag, ...JSON_TYPE }]);
  });

  it('a store error other than a lost condition is thrown, on create and on takeover', async () => {
    let now = 0;
    const { objects, runs } = await setup({ now: () => now });
    const down = new StoreUnavailableError('store down');
    objects.fault = (c) => (c.op === 'put' && c.key.endsWith('lease.json') ? down : null);
    await expect(runs.acquireLease('r', 'a', 1000)).rejects.toBe(down);
    objects.fault = null;
    await runs.acquireLease('r', 'a', 1000);
    now = 5000;
    objects.fault = (c) => (c.op === 'put' && c.key.endsWith('lease.json') && c.opts && 'ifMatch' in c.opts ? down : null);
    await expect(runs.acquireLease('r', 'b', 1000)).rejects.toBe(down);
  });

  it('gives up after five rounds of lost races with a conflict naming the holder', async () => {
    let now = 0;
    const { objects, runs } = await setup({ now: () => now });
    await runs.acquireLease('r', 'a', 1000);
    now = 5000; // a's lease has expired, but every write loses to "another taker"
    objects.fault = (c) => (c.op === 'put' && c.key.endsWith('lease.json') ? new PreconditionFailedError(c.key) : null);
    objects.calls.length = 0;
    const err = await runs.acquireLease('r', 'b', 1000).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LeaseConflictError);
    expect((err as Error).message).toContain('a');
    expect(objects.puts('lease.json')).toHaveLength(10); // 5 × (create, takeover)
  });

  it('an unreadable lease.json reads as expired, held by "unknown"', async () => {
    const { objects, runs } = await setup();
    await objects.put('runs/r/lease.json', 'not json');
    expect(await runs.readLease('r')).toMatchObject({ runId: 'r', holder: 'unknown', expiresAt: 0 });
    expect((await runs.acquireLease('r', 'me', 1000)).holder).toBe('me');
  });
});

// RunStore on both backends: runs, corpora, the checkpoint commit protocol under injected
// crashes, retention, metrics ordering, id validation. Lease and create-conflict *semantics*
// need enforced conditional writes, which s3rver lacks: they are proven on the file store
// below, and on S3 the requests they send are checked instead.
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { MetricPoint } from '../../shared/engine/types.ts';
import { readStoreSettings } from '../../functions/settings.ts';
import { newMetricsSegment, RunStore } from '../../shared/store/run-store.ts';
import { openRunStore } from '../../shared/store/open.ts';
import {
  InvalidKeyError,
  LeaseConflictError,
  PreconditionFailedError,
  RunExistsError,
  RunNotFoundError,
  StoreConfigError,
  type ObjectStore,
} from '../../shared/store/types.ts';
import { FaultyObjectStore, InjectedCrash } from '../support/faulty-object-store.ts';
import { backends, captureRequests, openFileStore, openS3Store, record } from './backends.ts';

/** Checkpoint files whose bytes identify the step (so a mix of two checkpoints is detectable). */
function files(step: number): Record<string, Uint8Array> {
  const tag = (name: string, size: number) => {
    const out = new Uint8Array(size);
    for (let i = 0; i < size; i++) out[i] = (step * 31 + i + name.length) & 0xff;
    return out;
  };
  return {
    'model.json': new TextEncoder().encode(JSON.stringify({ step })),
    'weights.bin': tag('weights.bin', 4096),
    'optimizer.bin': tag('optimizer.bin', 8192),
    'state.json': new TextEncoder().encode(JSON.stringify({ step, rng: step * 7 })),
  };
}

function expectFilesOf(loaded: { files: Record<string, Uint8Array> } | null, step: number): void {
  expect(loaded).not.toBeNull();
  const want = files(step);
  expect(Object.keys(loaded!.files).sort()).toEqual(Object.keys(want).sort());
  for (const name of Object.keys(want)) expect(Buffer.from(loaded!.files[name]).equals(Buffer.from(want[name])), name).toBe(true);
}

async function keysUnder(store: ObjectStore, prefix: string): Promise<string[]> {
  return (await store.list(prefix)).map((o) => o.key);
}

describe.each(backends)('RunStore on $name', (backend) => {
  it('creates, reads, updates, lists and deletes runs (unicode names allowed)', async () => {
    const objects = await backend.open();
    const runs = new RunStore(objects);
    await runs.createRun(record('alpha', 'Ålpha — 日本語 🚀'));
    await runs.createRun(record('beta'));
    expect((await runs.getRun('alpha'))?.name).toBe('Ålpha — 日本語 🚀');
    expect(await runs.getRun('gamma')).toBeNull();

    const updated = await runs.updateRun('alpha', { status: 'training', step: 5 });
    expect(updated).toMatchObject({ id: 'alpha', status: 'training', step: 5, name: 'Ålpha — 日本語 🚀' });
    expect(await runs.getRun('alpha')).toEqual(updated);
    await expect(runs.updateRun('gamma', { step: 1 })).rejects.toBeInstanceOf(RunNotFoundError);

    expect((await runs.listRuns()).map((r) => r.id)).toEqual(['alpha', 'beta']);
    await runs.saveCheckpoint('alpha', 10, files(10), { valLoss: 2, epoch: 0 });
    await runs.appendMetrics('alpha', newMetricsSegment(), [{ step: 1, epoch: 0, time: 1, trainLoss: 3 }]);
    expect(await runs.deleteRun('alpha')).toBe(true);
    expect(await runs.deleteRun('alpha')).toBe(false);
    expect(await keysUnder(objects, 'runs/alpha/')).toEqual([]);
    expect((await runs.listRuns()).map((r) => r.id)).toEqual(['beta']);
  });

  it('lists runs the same through a store without the optional listChildren/listKeys', async () => {
    const objects = await backend.open();
    const runs = new RunStore(objects);
    for (const id of ['r2', 'r1', 'r3']) await runs.createRun(record(id));
    await runs.saveCheckpoint('r1', 1, files(1), { valLoss: 1, epoch: 0 });
    await objects.put('runs/stray-dir/notes.txt', 'no run.json here');
    const plain = new RunStore(new FaultyObjectStore(objects)); // implements only the required methods
    expect((await runs.listRuns()).map((r) => r.id)).toEqual(['r1', 'r2', 'r3']);
    expect(await plain.listRuns()).toEqual(await runs.listRuns());
    expect((await plain.listCheckpoints('r1')).map((p) => p.step)).toEqual([1]);
  });

  it('stores corpora by content, idempotently', async () => {
    const runs = new RunStore(await backend.open());
    const text = 'To be, or not to be — ünïcödé\n';
    const a = await runs.putCorpus(text);
    const b = await runs.putCorpus(new TextEncoder().encode(text));
    const hex = createHash('sha256').update(text).digest('hex');
    expect(a).toEqual({ ref: `sha256:${hex}`, bytes: Buffer.byteLength(text) });
    expect(b).toEqual(a);
    expect(Buffer.from((await runs.getCorpus(a.ref))!).toString()).toBe(text);
    expect(await runs.getCorpus(`sha256:${'0'.repeat(64)}`)).toBeNull();
    await expect(runs.getCorpus('sha256:../../etc/passwd')).rejects.toBeInstanceOf(InvalidKeyError);
    expect(await keysUnder(runs.objects, 'corpora/')).toEqual([`corpora/${hex}.txt`]);
  });

  it('commits checkpoints objects-first, pointers last; best moves only on improvement', async () => {
    const runs = new RunStore(await backend.open());
    await runs.createRun(record('r'));
    expect(await runs.loadCheckpoint('r', 'latest')).toBeNull();
    const p1 = await runs.saveCheckpoint('r', 100, files(100), { valLoss: 2.5, epoch: 0.5 });
    expect(p1).toMatchObject({ step: 100, valLoss: 2.5, epoch: 0.5 });
    expect(p1.files.sort()).toEqual(['model.json', 'optimizer.bin', 'state.json', 'weights.bin'].map((f) => `checkpoints/0000000100/${f}`));
    await runs.saveCheckpoint('r', 200, files(200), { valLoss: 3.0, epoch: 1 }); // worse: best stays
    await runs.saveCheckpoint('r', 300, files(300), { valLoss: null, epoch: 1.5 }); // no eval: best stays

    expectFilesOf(await runs.loadCheckpoint('r', 'latest'), 300);
    const best = await runs.loadCheckpoint('r', 'best');
    expectFilesOf(best, 100);
    expect(best?.pointer.valLoss).toBe(2.5);
    expectFilesOf(await runs.loadCheckpoint('r', 200), 200);
    expect(await runs.loadCheckpoint('r', 250)).toBeNull();
    expect(await runs.getRun('r')).toMatchObject({ step: 300, epoch: 1.5, latestValLoss: null, bestValLoss: 2.5 });
    expect((await runs.listCheckpoints('r')).map((p) => p.step)).toEqual([100, 200, 300]);
    await expect(runs.saveCheckpoint('nope', 1, files(1), { valLoss: null, epoch: 0 })).rejects.toBeInstanceOf(RunNotFoundError);
  });

  it('a crash at any point of a save leaves latest on the previous complete checkpoint; the next save works', async () => {
    const inner = await backend.open();
    const faulty = new FaultyObjectStore(inner);
    const runs = new RunStore(faulty, { keepCheckpoints: 3 });
    await runs.createRun(record('crashy'));
    await runs.saveCheckpoint('crashy', 10, files(10), { valLoss: 2, epoch: 0 });

    // A save puts 4 files, the manifest, best.json (valLoss improves), latest.json, run.json.
    // Crash on each of the first 7: latest must still load step 10, complete and unmixed.
    for (let crashAt = 1; crashAt <= 7; crashAt++) {
      faulty.crashOnPut(crashAt);
      await expect(runs.saveCheckpoint('crashy', 20, files(20), { valLoss: 1, epoch: 1 })).rejects.toBeInstanceOf(InjectedCrash);
      await faulty.settled();
      faulty.heal();
      const latest = await runs.loadCheckpoint('crashy', 'latest');
      expect(latest?.step, `crash at put ${crashAt}`).toBe(10);
      expectFilesOf(latest, 10);
      expectFilesOf(await runs.loadCheckpoint('crashy', 'best'), crashAt <= 6 ? 10 : 20);
      expect((await runs.listCheckpoints('crashy')).map((p) => p.step)).toEqual(crashAt <= 5 ? [10] : [10, 20]);
    }

    // After the "restart": the next save commits, and leftovers of the crashed one are gone.
    await runs.saveCheckpoint('crashy', 30, files(30), { valLoss: 0.5, epoch: 2 });
    expectFilesOf(await runs.loadCheckpoint('crashy', 'latest'), 30);
    expectFilesOf(await runs.loadCheckpoint('crashy', 'best'), 30);
    const steps = (await runs.listCheckpoints('crashy')).map((p) => p.step);
    expect(steps).toEqual([10, 20, 30]);
    // A crash that leaves only some files (no manifest) at a step is cleaned up by the next save's retention.
    faulty.crashOnPut(3);
    await expect(runs.saveCheckpoint('crashy', 40, files(40), { valLoss: 0.4, epoch: 3 })).rejects.toBeInstanceOf(InjectedCrash);
    await faulty.settled(); // the two puts already on the wire land
    faulty.heal();
    expect((await keysUnder(inner, 'runs/crashy/checkpoints/0000000040/')).length).toBeGreaterThan(0);
    await runs.saveCheckpoint('crashy', 50, files(50), { valLoss: 0.3, epoch: 4 });
    expect(await keysUnder(inner, 'runs/crashy/checkpoints/0000000040/')).toEqual([]);
    expectFilesOf(await runs.loadCheckpoint('crashy', 'latest'), 50);
  });

  it('retention keeps the last K plus best and latest, and nothing else', async () => {
    const objects = await backend.open();
    const runs = new RunStore(objects, { keepCheckpoints: 2 });
    await runs.createRun(record('ret'));
    const losses = [3, 1, 2.5, 2.4, 2.3, 2.2]; // best is the 2nd save
    for (let i = 0; i < losses.length; i++) await runs.saveCheckpoint('ret', (i + 1) * 10, files((i + 1) * 10), { valLoss: losses[i], epoch: i });
    expect((await runs.listCheckpoints('ret')).map((p) => p.step)).toEqual([20, 50, 60]);
    expectFilesOf(await runs.loadCheckpoint('ret', 'best'), 20);
    expectFilesOf(await runs.loadCheckpoint('ret', 'latest'), 60);
    const dirs = new Set((await keysUnder(objects, 'runs/ret/checkpoints/')).map((k) => k.split('/')[3]));
    expect([...dirs].sort()).toEqual(['0000000020', '0000000050', '0000000060']);
  });

  it('a reader that lost the race with retention re-reads the pointer; a truly missing file is an error', async () => {
    const objects = await backend.open();
    const runs = new RunStore(objects, { keepCheckpoints: 1 });
    await runs.createRun(record('slow'));
    await runs.saveCheckpoint('slow', 10, files(10), { valLoss: null, epoch: 0 });
    const stalePointer = (await objects.get('runs/slow/latest.json'))!;
    await runs.saveCheckpoint('slow', 20, files(20), { valLoss: null, epoch: 0 }); // retention deletes step 10
    expect(await keysUnder(objects, 'runs/slow/checkpoints/0000000010/')).toEqual([]);
    // The slow reader saw latest → 10 just before that save, then reads the files.
    let served = false;
    const slowView: ObjectStore = {
      url: objects.url,
      put: (k, b, o) => objects.put(k, b, o),
      head: (k) => objects.head(k),
      list: (p) => objects.list(p),
      delete: (k, o) => objects.delete(k, o),
      get: async (k) => {
        if (k === 'runs/slow/latest.json' && !served) {
          served = true;
          return stalePointer;
        }
        return objects.get(k);
      },
    };
    expectFilesOf(await new RunStore(slowView).loadCheckpoint('slow', 'latest'), 20);
    expect(served).toBe(true);

    await objects.delete('runs/slow/checkpoints/0000000020/weights.bin');
    await expect(runs.loadCheckpoint('slow', 'latest')).rejects.toThrow(/checkpoint 20 of run slow in .* is missing checkpoints\/0000000020\/weights.bin/);
  });

  it('re-saving the step latest points at never overwrites the committed files in place', async () => {
    const runs = new RunStore(await backend.open(), { keepCheckpoints: 1 });
    await runs.createRun(record('again'));
    await runs.saveCheckpoint('again', 10, files(10), { valLoss: 2, epoch: 0 });
    const newer = files(11); // different bytes, same step (e.g. a rewind)
    const p = await runs.saveCheckpoint('again', 10, newer, { valLoss: 3, epoch: 0 });
    expect(p.files[0]).toMatch(/^checkpoints\/0000000010-[0-9a-f]+\//);
    expectFilesOf(await runs.loadCheckpoint('again', 'latest'), 11);
    expectFilesOf(await runs.loadCheckpoint('again', 'best'), 10); // 2 < 3: best kept, intact
    expectFilesOf(await runs.loadCheckpoint('again', 10), 11); // by step: the newest
  });

  it('reads metrics from many segments as one series ordered by step, then time', async () => {
    const runs = new RunStore(await backend.open());
    await runs.createRun(record('m'));
    const segments = Array.from({ length: 30 }, (_, i) => newMetricsSegment(1_700_000_000_000 + i * 1000));
    expect([...segments].sort()).toEqual(segments); // names sort in write order
    // Written in parallel and out of order: the reader must not depend on write order.
    await Promise.all(
      segments.map((segment, i) => {
        const points: MetricPoint[] = Array.from({ length: 5 }, (_, j) => ({ step: i * 5 + j + 1, epoch: i / 10, trainLoss: 4 - i * 0.1, time: 1_700_000_000_000 + i * 1000 + j }));
        return runs.appendMetrics('m', segment, points.reverse());
      }),
    );
    // A second slice re-ran steps 149-150 later (after a crash): both kept, ordered by time within a step.
    await runs.appendMetrics('m', newMetricsSegment(1_800_000_000_000), [
      { step: 149, epoch: 3, time: 1_800_000_000_000, valLoss: 1.5 },
      { step: 150, epoch: 3, time: 1_800_000_000_001, valLoss: 1.4 },
    ]);
    const all = await runs.readMetrics('m');
    expect(all).toHaveLength(152);
    expect(all.map((p) => p.step)).toEqual([...Array.from({ length: 148 }, (_, i) => i + 1), 149, 149, 150, 150]);
    expect(all.at(-1)).toMatchObject({ step: 150, valLoss: 1.4 });
    for (let i = 1; i < all.length; i++) expect(all[i].step > all[i - 1].step || all[i].time >= all[i - 1].time).toBe(true);
    expect((await runs.readMetrics('m', { afterStep: 145 })).map((p) => p.step)).toEqual([146, 147, 148, 149, 149, 150, 150]);
    expect((await runs.readMetrics('m', { afterTime: 1_700_000_029_003 })).map((p) => [p.step, p.time])).toEqual([
      [149, 1_800_000_000_000],
      [150, 1_700_000_029_004],
      [150, 1_800_000_000_001],
    ]);
    expect(await runs.readMetrics('never-written')).toEqual([]);
    await expect(runs.appendMetrics('m', '../evil', [])).rejects.toBeInstanceOf(InvalidKeyError);
  });

  it('rejects run ids that could escape the prefix, naming the problem, and writes nothing', async () => {
    const objects = await backend.open();
    const runs = new RunStore(objects);
    const cases: [string, RegExp][] = [
      ['../x', /'\/'|'\.\.'/],
      ['..', /'\.\.'/],
      ['a/b', /'\/'/],
      ['a\\b', /'\\'/],
      ['nul\0x', /NUL/],
      ['x'.repeat(300), /300 characters long; the limit is 64/],
      ['', /non-empty/],
      ['.hidden', /not starting with "\."/],
      ['Upper', /lowercase letters, digits/],
      ['spa ce', /lowercase letters, digits/],
      ['日本', /lowercase letters, digits/],
    ];
    for (const [id, message] of cases) {
      await expect(runs.createRun(record(id)), JSON.stringify(id)).rejects.toThrow(message);
      await expect(runs.getRun(id)).rejects.toBeInstanceOf(InvalidKeyError);
      await expect(runs.saveCheckpoint(id, 1, files(1), { valLoss: null, epoch: 0 })).rejects.toBeInstanceOf(InvalidKeyError);
      await expect(runs.acquireLease(id, 'me', 1000)).rejects.toBeInstanceOf(InvalidKeyError);
      await expect(runs.readMetrics(id)).rejects.toBeInstanceOf(InvalidKeyError);
      await expect(runs.deleteRun(id)).rejects.toBeInstanceOf(InvalidKeyError);
    }
    await expect(runs.createRun(record('ok-id.1_x'))).resolves.toBeTruthy();
    await expect(runs.saveCheckpoint('ok-id.1_x', -1, files(1), { valLoss: null, epoch: 0 })).rejects.toBeInstanceOf(InvalidKeyError);
    await expect(runs.saveCheckpoint('ok-id.1_x', 1, { '../x': new Uint8Array(1) }, { valLoss: null, epoch: 0 })).rejects.toBeInstanceOf(InvalidKeyError);
    expect(await keysUnder(objects, '')).toEqual(['runs/ok-id.1_x/run.json']);
  });
});

describe('RunStore semantics that need enforced conditional writes (file store)', () => {
  it('createRun refuses an existing id', async () => {
    const runs = new RunStore(await openFileStore());
    await runs.createRun(record('dup', 'first'));
    await expect(runs.createRun(record('dup', 'second'))).rejects.toBeInstanceOf(RunExistsError);
    expect((await runs.getRun('dup'))?.name).toBe('first');
  });

  it('concurrent updateRun calls all land: a lost ifMatch race is re-read and retried', async () => {
    const faulty = new FaultyObjectStore(await openFileStore());
    const runs = new RunStore(faulty);
    await runs.createRun(record('cc'));
    const results = await Promise.all(Array.from({ length: 8 }, (_, i) => runs.updateRun('cc', { step: i + 1 })));
    expect(results.map((r) => r.step).sort()).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    // At least one writer lost a race and retried instead of overwriting blindly or failing.
    expect(faulty.innerErrors.filter((e) => e.error instanceof PreconditionFailedError).length).toBeGreaterThan(0);
    expect(results.map((r) => r.step)).toContain((await runs.getRun('cc'))!.step);
  });

  it('leases: acquire, conflict, renew, expire → takeover, lost lease, release', async () => {
    let now = 1_000_000;
    const runs = new RunStore(await openFileStore(), { now: () => now });
    await runs.createRun(record('l'));
    const a = await runs.acquireLease('l', 'worker-a', 10_000);
    expect(a).toMatchObject({ runId: 'l', holder: 'worker-a', expiresAt: 1_010_000 });
    expect(await runs.readLease('l')).toEqual(a);

    const conflict = await runs.acquireLease('l', 'worker-b', 10_000).catch((e: unknown) => e);
    expect(conflict).toBeInstanceOf(LeaseConflictError);
    expect(conflict).toMatchObject({ runId: 'l', holder: 'worker-a', expiresAt: 1_010_000 });

    now += 8_000;
    const a2 = await runs.renewLease(a, 10_000);
    expect(a2.expiresAt).toBe(1_018_000);
    expect(a2.etag).not.toBe(a.etag);
    await expect(runs.renewLease(a, 10_000)).rejects.toBeInstanceOf(PreconditionFailedError); // stale copy
    now += 9_000; // still live thanks to the renewal
    await expect(runs.acquireLease('l', 'worker-b', 10_000)).rejects.toBeInstanceOf(LeaseConflictError);

    now += 2_000; // expired
    const b = await runs.acquireLease('l', 'worker-b', 10_000);
    expect(b).toMatchObject({ holder: 'worker-b', expiresAt: now + 10_000 });
    await expect(runs.renewLease(a2, 10_000)).rejects.toBeInstanceOf(PreconditionFailedError); // a lost it
    await expect(runs.releaseLease(a2)).rejects.toBeInstanceOf(PreconditionFailedError);
    expect((await runs.readLease('l'))?.holder).toBe('worker-b');

    await runs.releaseLease(b);
    expect(await runs.readLease('l')).toBeNull();
    await expect(runs.releaseLease(b)).rejects.toBeInstanceOf(PreconditionFailedError);
    const c = await runs.acquireLease('l', 'worker-c', 10_000);
    expect(c.holder).toBe('worker-c');
  });

  it('rejects a lease without a positive ttl', async () => {
    const runs = new RunStore(await openFileStore());
    await expect(runs.acquireLease('ttl', 'w', 0)).rejects.toThrow(/positive number of milliseconds/);
    await expect(runs.acquireLease('ttl', 'w', Number.NaN)).rejects.toThrow(RangeError);
    expect(await runs.readLease('ttl')).toBeNull();
  });

  it('exactly one of many racing acquirers (fresh or taking over an expired lease) wins', async () => {
    let now = 0;
    const runs = new RunStore(await openFileStore(), { now: () => now });
    const fresh = await Promise.allSettled(Array.from({ length: 10 }, (_, i) => runs.acquireLease('race', `w${i}`, 1_000)));
    expect(fresh.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    expect(fresh.filter((r) => r.status === 'rejected' && r.reason instanceof LeaseConflictError)).toHaveLength(9);
    now = 5_000; // expired: everyone tries to take over
    const takeover = await Promise.allSettled(Array.from({ length: 10 }, (_, i) => runs.acquireLease('race', `t${i}`, 1_000)));
    const winners = takeover.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    expect(winners).toHaveLength(1);
    expect(takeover.filter((r) => r.status === 'rejected' && r.reason instanceof LeaseConflictError)).toHaveLength(9);
    expect((await runs.readLease('race'))?.holder).toBe(winners[0].holder);
  });
});

describe('RunStore on S3: the conditional requests it sends', () => {
  it('createRun and acquireLease create with If-None-Match: *; renew/release use If-Match with the lease ETag', async () => {
    const store = await openS3Store();
    const runs = new RunStore(store);
    const { requests, stop } = captureRequests(store);
    await runs.createRun(record('s3run'));
    const lease = await runs.acquireLease('s3run', 'w', 10_000);
    const renewed = await runs.renewLease(lease, 10_000);
    await runs.releaseLease(renewed);
    stop();
    const writes = requests.filter((r) => r.method === 'PUT' || r.method === 'DELETE').map((r) => ({
      method: r.method,
      key: decodeURIComponent(r.path.slice(`/${store.bucket}/${store.prefix}`.length)),
      ifNoneMatch: r.headers['if-none-match'],
      ifMatch: r.headers['if-match'],
    }));
    expect(writes).toEqual([
      { method: 'PUT', key: 'runs/s3run/run.json', ifNoneMatch: '*', ifMatch: undefined },
      { method: 'PUT', key: 'runs/s3run/lease.json', ifNoneMatch: '*', ifMatch: undefined },
      { method: 'PUT', key: 'runs/s3run/lease.json', ifNoneMatch: undefined, ifMatch: lease.etag },
      { method: 'DELETE', key: 'runs/s3run/lease.json', ifNoneMatch: undefined, ifMatch: renewed.etag },
    ]);
    expect(lease.etag).toMatch(/^"[0-9a-f]{32}"$/);
    expect(await runs.readLease('s3run')).toBeNull();
  });

  it('updateRun writes with If-Match on the ETag it read', async () => {
    const store = await openS3Store();
    const runs = new RunStore(store);
    await runs.createRun(record('upd'));
    const etag = (await store.head('runs/upd/run.json'))!.etag;
    const { requests, stop } = captureRequests(store);
    await runs.updateRun('upd', { status: 'failed', error: 'boom' });
    stop();
    const put = requests.find((r) => r.method === 'PUT');
    expect(put?.headers['if-match']).toBe(etag);
    expect(await runs.getRun('upd')).toMatchObject({ status: 'failed', error: 'boom' });
  });
});

describe('RunStore configuration', () => {
  it('takes CHARRNN_KEEP_CHECKPOINTS and CHARRNN_STORE from its caller (functions/settings.ts reads them)', async () => {
    expect(readStoreSettings({}).keepCheckpoints).toBeUndefined();
    expect(readStoreSettings({ CHARRNN_KEEP_CHECKPOINTS: '5' }).keepCheckpoints).toBe(5);
    for (const bad of ['0', '-1', '2.5', 'three']) expect(() => readStoreSettings({ CHARRNN_KEEP_CHECKPOINTS: bad })).toThrow(StoreConfigError);
    expect(() => readStoreSettings({ CHARRNN_KEEP_CHECKPOINTS: 'lots' })).toThrow(/CHARRNN_KEEP_CHECKPOINTS must be a positive integer/);
    const dir = (await openFileStore()).root;
    const runs = openRunStore(readStoreSettings({ CHARRNN_STORE: `file://${dir}`, CHARRNN_KEEP_CHECKPOINTS: '7' }));
    expect(runs.keepCheckpoints).toBe(7);
    expect(runs.url).toBe(`file://${dir}`);
    await runs.createRun(record('env-run'));
    expect(await new RunStore(await openFileStore()).getRun('env-run')).toBeNull();
    expect((await openRunStore(`file://${dir}`).getRun('env-run'))?.id).toBe('env-run');
    expect(openRunStore(`file://${dir}`).keepCheckpoints).toBe(3);
    expect(openRunStore({ url: `file://${dir}`, keepCheckpoints: 7 }, { keepCheckpoints: 2 }).keepCheckpoints).toBe(2);
  });
});

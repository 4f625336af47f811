// The metrics log after crashes, at the store level: a slice writes its points before committing
// each checkpoint, so a crash can leave points past `latest`; once a later slice re-trains those
// steps, readMetrics shows one linear series (no duplicate), and never drops a committed point.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileObjectStore } from '../../shared/store/file-store.ts';
import { newMetricsSegment, RunStore } from '../../shared/store/index.ts';
import type { RunRecord } from '../../shared/store/types.ts';
import { resolveConfig } from '../../shared/engine/tf-free.ts';

let dir: string;
let store: RunStore;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'charrnn-rel-metrics-'));
  store = new RunStore(new FileObjectStore(dir));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

const record = (id: string): RunRecord => ({
  id, name: id, corpus: 'builtin:names', corpusName: 'names', ...resolveConfig(), status: 'idle', step: 0, epoch: 0,
  latestValLoss: null, bestValLoss: null, createdAt: '2026-01-01T00:00:00.000Z', updatedAt: '2026-01-01T00:00:00.000Z',
});
const T0 = 1_800_000_000_000;
const points = (from: number, to: number, time: number) => Array.from({ length: to - from + 1 }, (_, i) => ({ step: from + i, epoch: 0, trainLoss: 1, time: time + i }));

/** Slice `slice` resumed from `base` and flushed steps from..to at time t. */
const flush = (id: string, slice: string, base: number, from: number, to: number, t: number) =>
  store.appendMetrics(id, newMetricsSegment(t, { baseStep: base, slice }), points(from, to, t));

describe('metrics after crashes', () => {
  it('drops what a crashed slice wrote past its last checkpoint once a later slice re-trains it', async () => {
    await store.createRun(record('crash'));
    await flush('crash', 'aaaa0001', 0, 1, 10, T0); // committed with checkpoint 10
    await flush('crash', 'aaaa0001', 0, 11, 20, T0 + 1000); // crash before checkpoint 20 committed
    expect((await store.readMetrics('crash')).map((p) => p.step)).toEqual(points(1, 20, 0).map((p) => p.step)); // nothing re-trained yet
    await flush('crash', 'bbbb0002', 10, 11, 25, T0 + 60_000); // resumed from 10
    expect((await store.readMetrics('crash')).map((p) => p.step)).toEqual(points(1, 25, 0).map((p) => p.step));
  });

  it('two slices resuming from the same step: the later one wins, the earlier keeps nothing past it', async () => {
    await store.createRun(record('tie'));
    await flush('tie', 'cccc0001', 0, 1, 10, T0);
    await flush('tie', 'dddd0002', 10, 11, 14, T0 + 1000); // crashed right after its first flush
    await flush('tie', 'eeee0003', 10, 11, 30, T0 + 60_000); // also resumed from 10
    const steps = (await store.readMetrics('tie')).map((p) => p.step);
    expect(steps).toEqual(points(1, 30, 0).map((p) => p.step));
    expect((await store.readMetrics('tie')).filter((p) => p.step === 12)[0].time).toBe(T0 + 60_000 + 1);
  });

  it('a clean hand-over with a clock behind drops nothing', async () => {
    await store.createRun(record('skew'));
    await flush('skew', 'ffff0001', 0, 1, 10, T0);
    await flush('skew', '11110002', 10, 11, 20, T0 - 5_000); // next instance's clock is 5 s behind
    expect((await store.readMetrics('skew')).map((p) => p.step)).toEqual(points(1, 20, 0).map((p) => p.step));
  });
});

// Shared by the reliability tests: a direct view of the run store (bypassing the server), checks of
// the commit protocol's invariants, and polling.
import { expect } from 'vitest';
import { readSse, type SseEvent } from '../../functions/client.ts';
import { StoreUnavailableError, type RunStore } from '../../shared/store/index.ts';

export { json, sse, TINY } from '../functions/helpers.ts';

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `fn` until it returns a truthy value; throws with `what` after `timeoutMs`. */
export async function waitFor<T>(what: string, fn: () => Promise<T> | T, timeoutMs = 30_000, everyMs = 100): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

/** Reads an SSE response in the background; the array fills as events arrive. */
export function drainSse(res: Response): { events: SseEvent[]; done: Promise<void> } {
  const events: SseEvent[] = [];
  const done = (async () => {
    try {
      for await (const ev of readSse(res)) events.push(ev);
    } catch {
      // the server went away mid-stream: that is what these tests do
    }
  })();
  return { events, done };
}

/**
 * The step `latest` points at (0 when none), read while a slice may be committing. s3rver, unlike
 * S3, overwrites an object in place, so a read racing the commit of the same pointer can come back
 * cut short: truncated JSON, "aborted", or a socket left waiting (measured: 12 of 23 reads racing
 * 6,800 overwrites of one key failed). Retry such a read a few times; the server's own behaviour is what
 * the tests judge.
 */
export async function latestStep(store: RunStore, id: string): Promise<number> {
  for (let attempt = 1; ; attempt++) {
    try {
      return (await store.readPointer(id, 'latest'))?.step ?? 0;
    } catch (e) {
      if (!(e instanceof StoreUnavailableError || e instanceof SyntaxError) || attempt >= 5) throw e;
      await sleep(100);
    }
  }
}

/**
 * The commit protocol's promise: `latest` (and `best`) point at a checkpoint whose manifest and
 * every file exist, and the checkpoint loads. Returns latest's step (0 when none).
 */
export async function expectCommittedLatest(store: RunStore, id: string): Promise<number> {
  const latest = await store.readPointer(id, 'latest');
  if (!latest) return 0;
  const complete = await store.listCheckpoints(id);
  expect(complete.map((c) => c.step)).toContain(latest.step);
  const loaded = await store.loadCheckpoint(id, 'latest');
  expect(loaded?.step).toBe(latest.step);
  for (const rel of latest.files) expect(loaded!.files[rel.slice(rel.lastIndexOf('/') + 1)]?.byteLength).toBeGreaterThan(0);
  // Every committed checkpoint carries a validation, so a run with a latest has a best, also complete.
  const best = await store.readPointer(id, 'best');
  expect(best, `run ${id} has latest ${latest.step} but no best`).not.toBeNull();
  expect((await store.loadCheckpoint(id, 'best'))?.step).toBe(best!.step);
  return latest.step;
}

/**
 * The metrics log is one linear series: one point per step at most, in step order, up to `upTo`.
 * With evalEvery = 10 every multiple of 10 carries valLoss; the only other validations are those
 * a checkpoint ran at its own step (so its loss is known).
 */
export async function expectLinearValPoints(store: RunStore, id: string, upTo: number): Promise<void> {
  const points = await store.readMetrics(id);
  const steps = points.map((p) => p.step);
  expect(new Set(steps).size, `duplicate points at steps ${steps.filter((s, i) => steps.indexOf(s) !== i)}`).toBe(steps.length);
  expect([...steps].sort((a, b) => a - b)).toEqual(steps);
  expect(Math.max(...steps)).toBe(upTo);
  const valSteps = points.filter((p) => p.valLoss !== undefined).map((p) => p.step);
  const grid = Array.from({ length: Math.floor(upTo / 10) }, (_, i) => (i + 1) * 10);
  expect(valSteps.filter((s) => s % 10 === 0)).toEqual(grid);
}

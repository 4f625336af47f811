// A slice's store writes (functions/training/commit-queue.ts): one at a time in the order posted,
// the first failure kept and reported once, and nothing written after it or after the lease is
// lost. The slice tests cover it end to end; this holds each rule on its own.
import { describe, expect, it } from 'vitest';
import { CommitQueue } from '../../functions/training/commit-queue.ts';

const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('CommitQueue', () => {
  it('runs writes one after another in the order they were added, even when an earlier one is slower', async () => {
    const log: string[] = [];
    const q = new CommitQueue(() => false, () => {});
    const write = (name: string, ms: number) => async () => {
      log.push(`${name} start`);
      await tick(ms);
      log.push(`${name} end`);
    };
    q.add(write('metrics', 30));
    q.add(write('checkpoint', 1));
    q.add(write('run.json', 1));
    await q.drained();
    expect(log).toEqual(['metrics start', 'metrics end', 'checkpoint start', 'checkpoint end', 'run.json start', 'run.json end']);
    expect(q.error).toBeNull();
  });

  it('keeps the first failure, reports it once, and drops every write after it', async () => {
    const reported: unknown[] = [];
    const ran: string[] = [];
    const q = new CommitQueue(() => false, (e) => reported.push(e));
    const first = new Error('store down');
    q.add(async () => ran.push('a'));
    q.add(async () => {
      throw first;
    });
    q.add(async () => {
      ran.push('after');
      throw new Error('second');
    });
    await q.drained();
    expect(ran).toEqual(['a']);
    expect(q.error).toBe(first);
    expect(reported).toEqual([first]);
    q.add(async () => ran.push('later'));
    await q.drained();
    expect(ran).toEqual(['a']);
  });

  it('writes nothing once closed (the lease is lost), without calling it an error', async () => {
    let closed = false;
    const ran: string[] = [];
    const q = new CommitQueue(() => closed, () => {});
    q.add(async () => ran.push('before'));
    await q.drained();
    closed = true;
    q.add(async () => ran.push('after'));
    await q.drained();
    expect(ran).toEqual(['before']);
    expect(q.error).toBeNull();
  });
});

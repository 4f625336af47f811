// What a user runs, with nothing tuned: `charrnn train --seconds 30` on the default preset (auto, sized for those 30 s), the
// default checkpointSeconds (30) and evalEvery. Those two defaults meet at the slice's end, which
// is where `best` used to go missing (a periodic checkpoint at the last step, then the final
// validation with nothing left to commit it).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectBestIsMinimum } from '../support/best.ts';
import { runCharrnn } from './run-cli.ts';

let dir: string;
let storeUrl: string;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'charrnn-cli-defaults-'));
  storeUrl = pathToFileURL(path.join(dir, 'store')).href;
});
afterAll(() => rm(dir, { recursive: true, force: true }));

const charrnn = (args: string[]) => runCharrnn(args, { cwd: dir });

describe('charrnn with the shipped defaults', () => {
  it('train --seconds 30 leaves best on the lowest validation; runs shows it; sample --checkpoint best works', async () => {
    const r = await charrnn(['train', '--corpus', 'moby-dick', '--run', 'plain', '--seconds', '30', '--json', '--store', storeUrl]);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    const done = lines.at(-1)!;
    expect(done).toMatchObject({ done: true, stopReason: 'seconds' });
    expect(done.valLoss).toEqual(expect.any(Number));

    const best = await expectBestIsMinimum(storeUrl, 'plain');
    expect(done.bestValLoss).toBe(best.valLoss);
    // The slice's last checkpoint carries its last validation.
    const { openRunStore } = await import('../../shared/store/index.ts');
    const latest = await openRunStore(storeUrl).readPointer('plain', 'latest');
    expect(latest).toMatchObject({ step: done.step, valLoss: done.valLoss });

    const runs = await charrnn(['runs', '--json', '--store', storeUrl]);
    expect(runs.code, runs.stderr).toBe(0);
    const listed = (JSON.parse(runs.stdout) as { runs: { id: string; bestValLoss: number; sizing?: string }[] }).runs.find((x) => x.id === 'plain');
    expect(listed?.bestValLoss).toBe(best.valLoss);
    // auto sized the run for the 30 s it was asked to train, and says so.
    expect(listed?.sizing).toMatch(/^auto: \w+ \d+×\d+.*0\.5 min ≈/);
    const table = await charrnn(['runs', '--store', storeUrl]);
    expect(table.stdout.split('\n').find((l) => l.startsWith('plain'))).toContain(best.valLoss.toFixed(3));

    const sample = await charrnn(['sample', '--run', 'plain', '--checkpoint', 'best', '--length', '80', '--seed', '7', '--store', storeUrl]);
    expect(sample.code, sample.stderr).toBe(0);
    expect([...sample.stdout.replace(/\n$/, '')].length).toBe(80);
  });
});

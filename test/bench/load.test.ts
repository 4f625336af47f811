// What `npm run load` promises about its exit code (BENCHMARKS.md): 0 when every stream and the
// slice succeed with the event loop within --max-stall-ms, 1 when the stall bound is missed, 2 on a
// usage error such as a non-loopback --api (refused before any request). Short runs: the figures
// are not checked here, only that the script keeps its word.
import { describe, expect, it } from 'vitest';
import { runScript } from '../support/run-script.ts';

const load = (args: string[]) => runScript('test/bench/load.ts', args);

describe('npm run load', () => {
  it('exits 0 on a clean run and 1 when the event loop stalls past --max-stall-ms', async () => {
    // A generous bound here: the 200 ms default is a figure for a quiet machine, not for a test.
    const ok = await load(['--streams', '2', '--seconds', '2', '--length', '200', '--max-stall-ms', '5000', '--json']);
    expect(ok.code, ok.stderr).toBe(0);
    const stall = ok.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l)).find((r) => r.bench === 'stall');
    expect(stall).toMatchObject({ ok: true, target_max_ms: 5000 });
    // No event loop stalls for 0 ms: the same run with an impossible bound must fail.
    const strict = await load(['--streams', '2', '--seconds', '2', '--length', '200', '--max-stall-ms', '0']);
    expect(strict.code).toBe(1);
    expect(strict.stdout).toMatch(/target max ≤ 0 ms: MISSED/);
  });

  it('exits 2, sending nothing, for a non-loopback --api', async () => {
    const r = await load(['--api', 'http://example.com:8080']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--api must be a loopback address .*refusing http:\/\/example\.com:8080/);
  });
});

// The slice chain's stop and retry rules (functions/client/slice-chain.ts) against scripted slices:
// what the CLI, the TUI and its plain mode all follow.
import { describe, expect, it } from 'vitest';
import { ApiRequestError } from '../../functions/client.ts';
import { trainSlices, type ChainBudget, type ChainEvent, type SliceEvent } from '../../functions/client/slice-chain.ts';
import type { TrainBody, TrainSummary } from '../../shared/api/schemas.ts';

type Script = (body: TrainBody, n: number) => SliceEvent[] | Error;

function summary(patch: Partial<TrainSummary>): TrainSummary {
  return { runId: 'r', step: 10, epoch: 1, steps: 10, seconds: 1, trainLoss: 1, valLoss: null, bestValLoss: null, stopReason: 'seconds', checkpointStep: 10, backend: 'wasm', ...patch } as TrainSummary;
}

async function run(script: Script, budget: ChainBudget, opts: { shouldStop?: () => boolean } = {}) {
  const bodies: TrainBody[] = [];
  const events: ChainEvent[] = [];
  let thrown: unknown = null;
  const runSlice = async function* (body: TrainBody): AsyncGenerator<SliceEvent> {
    bodies.push(body);
    const out = script(body, bodies.length);
    if (out instanceof Error) throw out;
    yield* out;
  };
  try {
    for await (const ev of trainSlices(runSlice, budget, { retryDelaysMs: [0, 0], ...opts })) events.push(ev);
  } catch (e) {
    thrown = e;
  }
  return { bodies, events, thrown, end: events.at(-1) };
}

const done = (patch: Partial<TrainSummary>): SliceEvent[] => [{ type: 'done', data: summary(patch) }];

describe('slice chain', () => {
  it('asks each slice for what is left of the steps and stops when they are spent', async () => {
    const r = await run((b) => done({ steps: Math.min(b.steps!, 40), stopReason: b.steps! <= 40 ? 'steps' : 'seconds' }), { steps: 100, sliceSeconds: 5 });
    expect(r.bodies).toEqual([{ steps: 100, maxSeconds: 5 }, { steps: 60, maxSeconds: 5 }, { steps: 20, maxSeconds: 5 }]);
    expect(r.end).toEqual({ type: 'end', reason: 'done' });
  });

  it('counts epochs from the run epoch and trains one slice with no budget', async () => {
    const e = await run((_b, n) => done({ epoch: 2 + n * 0.5, stopReason: n < 2 ? 'seconds' : 'epochs' }), { epochs: 1, fromEpoch: 2 });
    expect(e.bodies).toEqual([{ epochs: 1 }, { epochs: 0.5 }]);
    const one = await run(() => done({}), {});
    expect(one.bodies).toHaveLength(1);
    expect(one.end).toEqual({ type: 'end', reason: 'done' });
  });

  it('goes on after a shutdown (another instance takes the next slice); diverged and aborted are final', async () => {
    const s = await run((_b, n) => done({ stopReason: n === 1 ? 'shutdown' : 'steps' }), { steps: 1000 });
    expect(s.bodies).toHaveLength(2);
    expect((await run(() => done({ stopReason: 'diverged' }), { untilStopped: true })).end).toEqual({ type: 'end', reason: 'diverged' });
    expect((await run(() => done({ stopReason: 'aborted' }), { untilStopped: true })).bodies).toHaveLength(1);
  });

  it('retries transient failures and streams that end early, then throws; other errors at once', async () => {
    const flaky = await run((_b, n) => (n === 1 ? new ApiRequestError(0, 'unreachable', 'cannot reach') : n === 2 ? [] : done({ stopReason: 'steps' })), { steps: 5 });
    expect(flaky.events.filter((e) => e.type === 'retry').map((e) => (e as { error: ApiRequestError }).error.code)).toEqual(['unreachable', 'stream_ended']);
    expect(flaky.end).toEqual({ type: 'end', reason: 'done' });
    const down = await run(() => new ApiRequestError(503, 'store_unavailable', 'down'), { steps: 5 });
    expect(down.bodies).toHaveLength(3);
    expect((down.thrown as ApiRequestError).code).toBe('store_unavailable');
    const busy = await run(() => new ApiRequestError(409, 'training_in_progress', 'busy'), { steps: 5 });
    expect(busy.bodies).toHaveLength(1);
    expect((busy.thrown as ApiRequestError).status).toBe(409);
  });

  it('gives up after three slices in a row without a step, and stops when asked before a slice', async () => {
    expect((await run(() => done({ steps: 0 }), { untilStopped: true })).end).toEqual({ type: 'end', reason: 'stalled' });
    let slices = 0;
    const stopped = await run(() => (slices++, done({})), { untilStopped: true }, { shouldStop: () => slices >= 2 });
    expect(stopped.bodies).toHaveLength(2);
    expect(stopped.end).toEqual({ type: 'end', reason: 'stopped' });
  });
});

// A training budget longer than one request, as a chain of bounded slices (POST /runs/:id/train,
// each resuming the last checkpoint), so no request outlives a platform's time limit. The CLI's
// `train`, the TUI's run view and its plain mode all drive this one generator, so they stop and
// retry by the same rules:
//
// Stop rules, after each slice's summary:
// - `steps`, `epochs`, `aborted`: final (the slice reached what was asked, or was cancelled).
// - `diverged`: final; the chain ends with reason 'diverged'.
// - `seconds`: the slice used its time; the chain goes on while the budget lasts.
// - `shutdown`: NOT final. The instance went away (scale-down, redeploy, SIGTERM) after
//   checkpointing, and any instance can run the next slice; it goes on like `seconds`.
// - the budget is spent: steps or epochs left ≤ 0, or under a second of `seconds` left; with no
//   budget at all (and not `untilStopped`) one slice is trained.
// - three slices in a row without a step: 'stalled' (a machine too busy for the slice length).
// - `shouldStop()` true before a slice, or `signal` aborted: 'stopped'.
//
// Retry rules: a transient failure (no answer, a status ≥ 500, 429, `lease_lost`) or a stream that
// ends without its summary is retried after 1, 2, 4 and 8 s (the count restarts after every slice
// that finishes); then, like any other failure (a 409 `training_in_progress`, a 4xx), it is thrown
// as the ApiRequestError.
import type { TrainBody, TrainProgress, TrainSummary } from '../../shared/api/schemas.ts';
import { ApiRequestError, isAbort, sseEvents, sseInit, type Client } from '../client.ts';

export type SliceEvent = { type: 'progress'; data: TrainProgress } | { type: 'done'; data: TrainSummary };

/** One slice as its events; failures as ApiRequestError (status 0 when nothing answered). */
export type SliceRunner = (body: TrainBody, signal: AbortSignal) => AsyncIterable<SliceEvent>;

/** One slice of run `id` over HTTP (SSE `progress` events, then `done`): the runner both clients use. */
export async function* trainSlice(client: Client, baseUrl: string, id: string, body: TrainBody, signal?: AbortSignal): AsyncGenerator<SliceEvent> {
  for await (const ev of sseEvents(() => client.runs[':id'].train.$post({ param: { id }, json: body }, sseInit(signal)), baseUrl)) {
    if (ev.event === 'progress') yield { type: 'progress', data: JSON.parse(ev.data) as TrainProgress };
    else if (ev.event === 'done') {
      yield { type: 'done', data: JSON.parse(ev.data) as TrainSummary };
      return;
    }
  }
}

export interface ChainBudget {
  /** Steps over the whole chain. */
  steps?: number;
  /** Epochs over the whole chain, counted from `fromEpoch` (the run's epoch before it starts). */
  epochs?: number;
  fromEpoch?: number;
  /** Wall-clock seconds over the whole chain. */
  seconds?: number;
  /** Without steps, epochs or seconds: go on until stopped (otherwise one slice). */
  untilStopped?: boolean;
  /** Longest slice; unset: the server's default (or what is left of `seconds`). */
  sliceSeconds?: number;
}

export type ChainEnd = 'done' | 'diverged' | 'stalled' | 'stopped';

export type ChainEvent =
  | SliceEvent
  | { type: 'retry'; error: ApiRequestError; waitMs: number; attempt: number; attempts: number }
  | { type: 'end'; reason: ChainEnd };

export interface ChainOptions {
  signal?: AbortSignal;
  /** Checked before each slice: true starts no further one (the current one still finishes). */
  shouldStop?: () => boolean;
  /** Back-off before each retry (ms); its length is the number of retries. */
  retryDelaysMs?: readonly number[];
  now?: () => number;
}

export const RETRY_DELAYS_MS = [1000, 2000, 4000, 8000] as const;
/** Slices in a row without a step before the chain gives up. */
export const STALL_LIMIT = 3;
const CONTINUING = new Set<TrainSummary['stopReason']>(['seconds', 'shutdown']);

/** A failure that may pass: nothing answered, the server failed or is busy, or the lease moved. */
export function isTransient(err: unknown): boolean {
  if (!(err instanceof ApiRequestError)) return false;
  return (err.status === 0 && err.code === 'unreachable') || err.status >= 500 || err.status === 429 || err.code === 'lease_lost';
}

export async function* trainSlices(runSlice: SliceRunner, budget: ChainBudget, opts: ChainOptions = {}): AsyncGenerator<ChainEvent> {
  const now = opts.now ?? Date.now;
  const delays = opts.retryDelaysMs ?? RETRY_DELAYS_MS;
  const signal = opts.signal ?? new AbortController().signal;
  const deadline = budget.seconds !== undefined ? now() + budget.seconds * 1000 : undefined;
  const targetEpoch = budget.epochs !== undefined ? (budget.fromEpoch ?? 0) + budget.epochs : undefined;
  const open = budget.untilStopped || budget.steps !== undefined || budget.epochs !== undefined || deadline !== undefined;
  let stepsLeft = budget.steps;
  let epoch = budget.fromEpoch ?? 0;
  let failures = 0;
  let idle = 0;
  const stopped = () => signal.aborted || !!opts.shouldStop?.();

  for (let first = true; ; first = false) {
    if (stopped()) return yield { type: 'end', reason: 'stopped' };
    const secondsLeft = deadline !== undefined ? (deadline - now()) / 1000 : undefined;
    const epochsLeft = targetEpoch !== undefined ? targetEpoch - epoch : undefined;
    const spent = (stepsLeft !== undefined && stepsLeft <= 0) || (epochsLeft !== undefined && epochsLeft < 1e-6) || (secondsLeft !== undefined && secondsLeft < 1);
    if (!first && (spent || !open)) return yield { type: 'end', reason: 'done' };

    const maxSeconds = Math.min(budget.sliceSeconds ?? Infinity, secondsLeft ?? Infinity);
    const body: TrainBody = {
      ...(stepsLeft !== undefined ? { steps: stepsLeft } : {}),
      ...(epochsLeft !== undefined ? { epochs: epochsLeft } : {}),
      ...(Number.isFinite(maxSeconds) ? { maxSeconds: Math.max(1, maxSeconds) } : {}),
    };
    let summary: TrainSummary | null = null;
    let failure: ApiRequestError;
    try {
      for await (const ev of runSlice(body, signal)) {
        if (ev.type === 'done') summary = ev.data;
        yield ev;
      }
      if (summary) {
        failures = 0;
        if (summary.stopReason === 'diverged') return yield { type: 'end', reason: 'diverged' };
        if (!CONTINUING.has(summary.stopReason)) return yield { type: 'end', reason: 'done' };
        idle = summary.steps === 0 ? idle + 1 : 0;
        if (idle >= STALL_LIMIT) return yield { type: 'end', reason: 'stalled' };
        if (stepsLeft !== undefined) stepsLeft -= summary.steps;
        epoch = summary.epoch;
        continue;
      }
      if (signal.aborted) return yield { type: 'end', reason: 'stopped' };
      failure = new ApiRequestError(0, 'stream_ended', 'the server closed the training stream before the slice finished');
    } catch (err) {
      if (isAbort(err) || signal.aborted) return yield { type: 'end', reason: 'stopped' };
      if (!isTransient(err)) throw err;
      failure = err as ApiRequestError;
    }
    // A long run should survive a hiccup (server restarting, store briefly unavailable).
    if (failures >= delays.length || stopped()) throw failure;
    const waitMs = delays[failures++];
    yield { type: 'retry', error: failure, waitMs, attempt: failures, attempts: delays.length };
    await sleep(waitMs, signal);
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        resolve();
      },
      { once: true },
    );
  });
}

// One training slice, server side: the loop trains (in a worker thread or in-process, see
// runner.ts) while this holds the lease (lease-keeper.ts) and commits every checkpoint the loop
// posts, in order (commit-queue.ts): the metrics segment up to that step, the checkpoint objects,
// then run.json. Progress goes to listeners (SSE); the slice runs to its end whether or not anyone
// listens. TrainingManager (manager.ts) starts slices.
import { EventEmitter } from 'node:events';
import { randomBytes } from 'node:crypto';
import type { BackendInUse, TrainProgress, TrainSummary } from '../../shared/api/schemas.ts';
import { EngineInputError } from '../../shared/engine/types.ts';
import type { EngineSettings } from '../../shared/engine/settings.ts';
import type { CheckpointPointer, Lease, RunRecord } from '../../shared/store/types.ts';
import { newMetricsSegment, type RunStore } from '../../shared/store/index.ts';
import { HttpError, TrainingFailedError } from '../errors.ts';
import type { Limits } from '../settings.ts';
import { CommitQueue } from './commit-queue.ts';
import { LeaseKeeper } from './lease-keeper.ts';
import type { ProgressPoint, ServerMessage, StopReason, WorkerInput, WorkerMessage } from './protocol.ts';
import { startRunner, type SliceRunner, type TrainingThread } from './runner.ts';

export interface SliceDeps {
  store: RunStore;
  /** The engine's settings, passed to the slice's loop (its worker thread loads its own tfjs). */
  engine?: EngineSettings;
  /** Where slices train (default: a worker thread); decided per backend by threadPlan. */
  trainingThread?: () => Promise<TrainingThread>;
  limits: Limits;
  log: (msg: string) => void;
  now: () => number;
}

type Events = { progress: [TrainProgress] };
type EndMessage = Extract<WorkerMessage, { type: 'end' }>;

const message = (e: unknown) => (e instanceof Error ? e.message : String(e));

export class TrainingSlice extends EventEmitter<Events> {
  readonly done: Promise<TrainSummary>;
  private runner: SliceRunner | null = null;
  private stopReason: StopReason | null = null;
  private resolve!: (s: TrainSummary) => void;
  private reject!: (e: unknown) => void;

  // What the loop has said so far (set while run() runs).
  private using: BackendInUse | null = null;
  private resumedFrom = 0;
  private committed = { step: 0, epoch: 0 };
  private bestValLoss: number | null = null;
  private latestValLoss: number | null = null;
  /** Progress points not yet in a committed checkpoint's metrics. */
  private pending: ProgressPoint[] = [];
  private end: EndMessage | null = null;
  private failure: unknown = null;
  /** evalFirst: the best pointer to re-record with the validation at the starting step, until it is. */
  private rebaseBest: CheckpointPointer | null = null;

  constructor(readonly runId: string) {
    super();
    this.done = new Promise<TrainSummary>((res, rej) => {
      this.resolve = res;
      this.reject = rej;
    });
    this.done.catch(() => {}); // observed by whoever awaits; never an unhandled rejection
  }

  /** Ask the worker to stop after the step in flight; it checkpoints, then the slice ends. */
  stop(reason: StopReason): void {
    this.stopReason ??= reason;
    this.runner?.post({ type: 'stop', reason } satisfies ServerMessage);
  }

  /** Hard stop (shutdown grace period over). */
  terminate(): Promise<void> | undefined {
    return this.runner?.terminate();
  }

  /** @internal Train under `lease` until the loop ends, commit as it goes, then settle `done`. */
  async run(deps: SliceDeps, run: RunRecord, lease: Lease, input: WorkerInput, rebaseBest: CheckpointPointer | null = null): Promise<void> {
    const { store, log } = deps;
    this.resumedFrom = run.step;
    this.committed = { step: run.step, epoch: run.epoch };
    this.bestValLoss = run.bestValLoss;
    this.latestValLoss = run.latestValLoss;
    this.rebaseBest = rebaseBest;

    const keeper = new LeaseKeeper(lease, store, deps.limits.leaseSeconds * 1000, deps.now, (loss) => {
      log(`lease of ${run.id} lost (${message(loss.error)}); stopping the slice without a checkpoint`);
      this.stop('lease_lost');
    });
    const commits = new CommitQueue(() => keeper.lost !== null, () => this.stop('aborted'));
    const commit = new Committer(deps, run.id, randomBytes(4).toString('hex'));

    const runner = startRunner(deps.trainingThread ? await deps.trainingThread() : 'worker', input, (line) => log(`worker ${run.id}: ${line}`));
    this.runner = runner;
    if (this.stopReason) this.stop(this.stopReason);
    await this.follow(runner, (m) => this.handle(m, { deps, run, input, commits, commit, keeper }));

    await keeper.stop();
    await commits.drained();
    this.runner = null;
    await this.settle(deps, run.id, keeper, commits);
  }

  /** Every message of the runner until its thread exits; a thread error is a TrainingFailedError. */
  private follow(runner: SliceRunner, handle: (m: WorkerMessage) => void): Promise<void> {
    runner.onMessage(handle);
    runner.onError((e) => {
      this.failure ??= new TrainingFailedError(e.message);
    });
    return runner.exited.then(() => {});
  }

  private handle(m: WorkerMessage, ctx: SliceContext): void {
    const { run, commits, commit } = ctx;
    switch (m.type) {
      case 'ready':
        this.using = m.using;
        this.resumedFrom = m.step;
        commits.add(() => ctx.deps.store.updateRun(run.id, { vocabSize: m.vocabSize, params: m.params }));
        break;
      case 'progress':
        this.onProgress(m.point, ctx);
        break;
      case 'checkpoint': {
        if (ctx.keeper.lost) break; // not ours to write any more
        const points = this.pending.filter((p) => p.step <= m.step);
        this.pending = this.pending.filter((p) => p.step > m.step);
        const resumedFrom = this.resumedFrom;
        commits.add(async () => {
          await commit.checkpoint(m, points, resumedFrom);
          this.committed = { step: m.step, epoch: m.epoch };
          this.bestValLoss = (await ctx.deps.store.updateRun(run.id, { step: m.step, epoch: m.epoch, latestValLoss: this.latestValLoss })).bestValLoss;
        });
        break;
      }
      case 'diverged':
        ctx.deps.log(`run ${run.id} diverged: ${m.reason}; the last checkpoint stays the latest`);
        break;
      case 'end':
        this.end = m;
        this.exitSoon();
        break;
      case 'error':
        // A bad config or corpus is the caller's (4xx); unreadable stored checkpoint bytes are not.
        this.failure = m.field !== undefined && m.field !== 'checkpoint' ? new EngineInputError(m.message, m.field) : new TrainingFailedError(m.message);
        this.exitSoon();
        break;
    }
  }

  private onProgress(point: ProgressPoint, ctx: SliceContext): void {
    if (point.valLoss !== undefined) this.latestValLoss = point.valLoss;
    // evalFirst: the validation at the starting step is the bar best is measured against.
    if (ctx.input.evalFirst && point.step === this.resumedFrom && point.valLoss !== undefined && this.rebaseBest) {
      const rebased = { ...this.rebaseBest, valLoss: point.valLoss };
      this.rebaseBest = null;
      this.bestValLoss = rebased.valLoss;
      ctx.commits.add(() => ctx.deps.store.setBest(ctx.run.id, rebased));
    }
    this.pending.push(point);
    const { etaSeconds, ...rest } = point;
    if (this.using) this.emit('progress', { runId: ctx.run.id, ...rest, etaSeconds, ...this.using });
  }

  /** The loop has said its last word: a worker should exit by itself, but a stray handle in a library must not hold the slice open. */
  private exitSoon(): void {
    const runner = this.runner;
    setTimeout(() => void runner?.terminate(), 5000).unref();
  }

  /** The run's final status, the lease released, and `done` resolved with the summary or rejected with the error. */
  private async settle(deps: SliceDeps, runId: string, keeper: LeaseKeeper, commits: CommitQueue): Promise<void> {
    const { store, log } = deps;
    if (keeper.lost?.takenOver) {
      // The new holder owns run.json and the lease now.
      this.reject(new HttpError(409, 'lease_lost', `run "${runId}" was taken over by another trainer during this slice; its last checkpoint is step ${this.committed.step}`));
      return;
    }
    // A lease that lapsed because the store kept failing is a store outage, like a failed commit.
    const storeError = commits.error ?? keeper.lost?.error ?? null;
    const end = this.end;
    if (!this.failure && !end) this.failure = new TrainingFailedError('the training worker exited before finishing');
    const failure = this.failure;
    try {
      await store.updateRun(runId, {
        status: failure ? 'failed' : 'idle',
        ...(failure ? { error: message(failure) } : {}),
        latestValLoss: this.latestValLoss,
        bestValLoss: this.bestValLoss,
      });
    } catch (e) {
      log(`could not update run ${runId} after the slice: ${message(e)}`);
    }
    await store.releaseLease(keeper.current).catch((e: unknown) => log(`could not release lease of ${runId}: ${message(e)}`));
    if (failure || storeError || !end) {
      this.reject(failure ?? storeError);
      return;
    }
    const stopReason = end.reason === 'aborted' && this.stopReason === 'shutdown' ? 'shutdown' : end.reason;
    this.resolve({
      runId,
      step: this.committed.step,
      epoch: this.committed.epoch,
      trainLoss: end.trainLoss,
      valLoss: end.valLoss,
      valBpc: end.valBpc,
      bestValLoss: this.bestValLoss,
      charsPerSec: end.charsPerSec,
      steps: end.steps,
      seconds: end.seconds,
      stopReason,
      checkpointStep: this.committed.step,
      backend: this.using?.backend ?? 'unknown',
    });
  }
}

interface SliceContext {
  deps: SliceDeps;
  run: RunRecord;
  input: WorkerInput;
  commits: CommitQueue;
  commit: Committer;
  keeper: LeaseKeeper;
}

/** A checkpoint's objects, in the order that survives a crash between the two (run.json follows). */
class Committer {
  constructor(
    private readonly deps: SliceDeps,
    private readonly runId: string,
    /** Names this slice's metrics segments. */
    private readonly sliceTag: string,
  ) {}

  async checkpoint(m: Extract<WorkerMessage, { type: 'checkpoint' }>, points: ProgressPoint[], resumedFrom: number): Promise<void> {
    const { store, now } = this.deps;
    const { step, epoch, valLoss, files } = m;
    // Metrics first, then the checkpoint: a crash in between leaves points past `latest`, which
    // readMetrics drops once the next slice re-trains those steps (the segment name says where
    // this slice resumed from). The other order would lose them for good. One create-only object
    // per flush (S3 cannot append); names sort in write order.
    if (points.length) await store.appendMetrics(this.runId, newMetricsSegment(now(), { baseStep: resumedFrom, slice: this.sliceTag }), points.map(toMetricPoint));
    // The store moves best.json when valLoss beats it and mirrors it into run.json.
    await store.saveCheckpoint(this.runId, step, files, { valLoss, epoch });
  }
}

function toMetricPoint(p: ProgressPoint) {
  const { etaSeconds: _eta, ...point } = p;
  return point;
}

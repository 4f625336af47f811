// One training slice, server side: lease, corpus + checkpoint in, the loop trains (in a worker
// thread or in-process, see runner.ts), and every checkpoint it posts is committed here
// (checkpoint objects, then the metrics segment up to that step, then run.json). Progress goes to
// listeners (SSE); the slice runs to its end whether or not anyone listens.
import { EventEmitter } from 'node:events';
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { BackendInUse, TrainBody, TrainProgress, TrainSummary } from '../../shared/api/schemas.ts';
import { checkPrime, readCheckpointInfo, Vocab } from '../../shared/engine/tf-free.ts';
import { EngineInputError } from '../../shared/engine/types.ts';
import type { CheckpointFiles } from '../../shared/engine/types.ts';
import { PreconditionFailedError, type CheckpointPointer, type Lease, type RunRecord } from '../../shared/store/types.ts';
import { newMetricsSegment, type RunStore } from '../../shared/store/index.ts';
import { HttpError } from '../errors.ts';
import type { Limits } from '../limits.ts';
import { loadCorpusText } from '../runs/corpus.ts';
import { sampleConfigOf } from '../runs/record.ts';
import type { ProgressPoint, ServerMessage, StopReason, WorkerInput, WorkerMessage } from './protocol.ts';
import { startRunner, type SliceRunner, type TrainingThread } from './runner.ts';

const PROGRESS_MS = 250;

export interface SliceDeps {
  store: RunStore;
  /** Where slices train (default: a worker thread); decided per backend by threadPlan. */
  trainingThread?: () => Promise<TrainingThread>;
  limits: Limits;
  log: (msg: string) => void;
  now: () => number;
}

type Events = { progress: [TrainProgress] };

/** Hooks for callers other than POST /train (retrain). */
export interface SliceOptions {
  /** Loads the slice's inputs under the lease instead of the run's corpus and latest checkpoint;
   * throwing releases the lease and fails start(). */
  prepare?: (run: RunRecord) => Promise<{ text: string; checkpoint?: CheckpointFiles; best?: CheckpointPointer | null }>;
  /**
   * Measure validation loss before the first step (a progress point at the starting step) and make
   * it the bar: `best` (the pointer `prepare` returned) is re-recorded with that loss, and only a
   * validation below it moves best. Retrain uses it: its corpus, and so its validation split, may
   * have changed since best was measured.
   */
  evalFirst?: boolean;
  onProgress?: (p: TrainProgress) => void;
}

/** The worker failed (bad checkpoint bytes, out of memory, a bug): the run is marked failed. */
export class TrainingFailedError extends Error {
  constructor(message: string) {
    super(`training failed: ${message.split('\n')[0]}`);
    this.name = 'TrainingFailedError';
  }
}

export class TrainingSlice extends EventEmitter<Events> {
  readonly done: Promise<TrainSummary>;
  private runner: SliceRunner | null = null;
  private stopReason: StopReason | null = null;
  private resolve!: (s: TrainSummary) => void;
  private reject!: (e: unknown) => void;

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

  /** @internal */
  async run(deps: SliceDeps, run: RunRecord, lease: Lease, input: WorkerInput, rebaseBest: CheckpointPointer | null = null): Promise<void> {
    const { store, log } = deps;
    const leaseMs = deps.limits.leaseSeconds * 1000;
    let currentLease = lease;
    let leaseLost = false;
    let leaseTakenOver = false;
    let using: BackendInUse | null = null;
    let resumedFrom = run.step;
    const sliceTag = randomBytes(4).toString('hex');
    let committed = { step: run.step, epoch: run.epoch };
    let bestValLoss = run.bestValLoss;
    let latestValLoss = run.latestValLoss;
    let pending: ProgressPoint[] = [];
    let storeError: unknown = null;
    let queue: Promise<void> = Promise.resolve();
    const enqueue = (fn: () => Promise<void>) => {
      // After a store failure or a lost lease, commits still queued are dropped: against a hung
      // store each would take the SDK's full retry budget, so the slice would only end after
      // (checkpoints queued) × (retry budget), not within a bounded time.
      queue = queue.then(() => (storeError || leaseLost ? undefined : fn())).catch((e: unknown) => {
        storeError ??= e;
        this.stop('aborted');
      });
    };

    // Renew every third of the lifetime, one renewal at a time (each needs the previous ETag). A
    // conditional-write loss means someone else holds the run; a store hiccup is retried until the
    // lease would have expired.
    let renewTimer: NodeJS.Timeout | undefined;
    let renewing = true;
    let inFlight: Promise<void> = Promise.resolve();
    const renewOnce = async () => {
      try {
        const renewed = await store.renewLease(currentLease, leaseMs);
        currentLease = renewed;
      } catch (e) {
        const takenOver = e instanceof PreconditionFailedError;
        if ((takenOver || currentLease.expiresAt <= deps.now()) && renewing) {
          log(`lease of ${run.id} lost (${e instanceof Error ? e.message : String(e)}); stopping the slice without a checkpoint`);
          leaseLost = true;
          // A lease that lapsed because the store kept failing is a store outage, not a takeover.
          if (!takenOver) storeError ??= e;
          leaseTakenOver = takenOver;
          this.stop('lease_lost');
          return;
        }
      }
      scheduleRenew();
    };
    const scheduleRenew = () => {
      if (!renewing) return;
      renewTimer = setTimeout(() => (inFlight = renewOnce()), leaseMs / 3);
      renewTimer.unref();
    };
    scheduleRenew();
    /** No renewal after this resolves, so the lease can be released with its current ETag. */
    const stopRenewing = async () => {
      renewing = false;
      clearTimeout(renewTimer);
      await inFlight;
    };

    const runner = startRunner(deps.trainingThread ? await deps.trainingThread() : 'worker', input, (line) => log(`worker ${run.id}: ${line}`));
    this.runner = runner;
    if (this.stopReason) this.stop(this.stopReason);

    // The loop has said its last word: a worker should exit by itself, but a stray handle in a
    // library must not hold the slice open.
    const exitSoon = () => setTimeout(() => void runner.terminate(), 5000).unref();
    let end: Extract<WorkerMessage, { type: 'end' }> | null = null;
    let failure: unknown = null;
    const finished = new Promise<void>((resolveExit) => {
      runner.onMessage((m: WorkerMessage) => {
        switch (m.type) {
          case 'ready':
            using = m.using;
            resumedFrom = m.step;
            enqueue(() => store.updateRun(run.id, { vocabSize: m.vocabSize, params: m.params }).then(() => {}));
            break;
          case 'progress': {
            if (m.point.valLoss !== undefined) latestValLoss = m.point.valLoss;
            if (input.evalFirst && m.point.step === resumedFrom && m.point.valLoss !== undefined && rebaseBest) {
              const rebased = { ...rebaseBest, valLoss: m.point.valLoss };
              rebaseBest = null;
              bestValLoss = rebased.valLoss;
              enqueue(() => store.setBest(run.id, rebased));
            }
            pending.push(m.point);
            const { etaSeconds, ...point } = m.point;
            if (using) this.emit('progress', { runId: run.id, ...point, etaSeconds, ...using });
            break;
          }
          case 'checkpoint': {
            if (leaseLost) break; // not ours to write any more
            const { step, epoch, valLoss, files } = m;
            const points = pending.filter((p) => p.step <= step);
            pending = pending.filter((p) => p.step > step);
            enqueue(async () => {
              // Metrics first, then the checkpoint: a crash in between leaves points past `latest`,
              // which readMetrics drops once the next slice re-trains those steps (the segment name
              // says where this slice resumed from). The other order would lose them for good.
              // One create-only object per flush (S3 cannot append); names sort in write order.
              if (points.length) await store.appendMetrics(run.id, newMetricsSegment(deps.now(), { baseStep: resumedFrom, slice: sliceTag }), points.map(toMetricPoint));
              // The store moves best.json when valLoss beats it and mirrors it into run.json.
              await store.saveCheckpoint(run.id, step, files, { valLoss, epoch });
              committed = { step, epoch };
              bestValLoss = (await store.updateRun(run.id, { step, epoch, latestValLoss })).bestValLoss;
            });
            break;
          }
          case 'diverged':
            log(`run ${run.id} diverged: ${m.reason}; the last checkpoint stays the latest`);
            break;
          case 'end':
            end = m;
            exitSoon();
            break;
          case 'error':
            // A bad config or corpus is the caller's (4xx); unreadable stored checkpoint bytes are not.
            failure = m.field !== undefined && m.field !== 'checkpoint' ? new EngineInputError(m.message, m.field) : new TrainingFailedError(m.message);
            exitSoon();
            break;
        }
      });
      runner.onError((e) => {
        failure ??= new TrainingFailedError(e.message);
      });
      void runner.exited.then(resolveExit);
    });

    await finished;
    await stopRenewing();
    await queue;
    this.runner = null;
    const finalEnd = end as Extract<WorkerMessage, { type: 'end' }> | null;
    if (!failure && !finalEnd) failure = new TrainingFailedError('the training worker exited before finishing');
    const error = failure ?? storeError;
    if (leaseTakenOver) {
      // The new holder owns run.json and the lease now.
      this.reject(new HttpError(409, 'lease_lost', `run "${run.id}" was taken over by another trainer during this slice; its last checkpoint is step ${committed.step}`));
      return;
    }
    try {
      await store.updateRun(run.id, {
        status: error && !(error === storeError) ? 'failed' : 'idle',
        ...(error && error !== storeError ? { error: error instanceof Error ? error.message : String(error) } : {}),
        latestValLoss,
        bestValLoss,
      });
    } catch (e) {
      log(`could not update run ${run.id} after the slice: ${e instanceof Error ? e.message : String(e)}`);
    }
    await store.releaseLease(currentLease).catch((e: unknown) => log(`could not release lease of ${run.id}: ${e instanceof Error ? e.message : String(e)}`));
    if (error || !finalEnd) {
      this.reject(error);
      return;
    }
    const stopReason = finalEnd.reason === 'aborted' && this.stopReason === 'shutdown' ? 'shutdown' : finalEnd.reason;
    this.resolve({
      runId: run.id,
      step: committed.step,
      epoch: committed.epoch,
      trainLoss: finalEnd.trainLoss,
      valLoss: finalEnd.valLoss,
      valBpc: finalEnd.valBpc,
      bestValLoss,
      charsPerSec: finalEnd.charsPerSec,
      steps: finalEnd.steps,
      seconds: finalEnd.seconds,
      stopReason,
      checkpointStep: committed.step,
      backend: (using as BackendInUse | null)?.backend ?? 'unknown',
    });
  }
}

function toMetricPoint(p: ProgressPoint) {
  const { etaSeconds: _eta, ...point } = p;
  return point;
}

/** Tracks this instance's slices: one per run, all stoppable at shutdown. */
export class TrainingManager {
  private readonly active = new Map<string, TrainingSlice>();
  private closing = false;

  constructor(private readonly deps: SliceDeps) {}

  isActive(runId: string): boolean {
    return this.active.has(runId);
  }

  get size(): number {
    return this.active.size;
  }

  /** Validate, take the lease, load inputs and start the worker. Throws (404/409/400) before anything runs. */
  async start(runId: string, body: TrainBody, opts: SliceOptions = {}): Promise<TrainingSlice> {
    const { store, limits } = this.deps;
    if (this.closing) throw new HttpError(503, 'shutting_down', 'server is shutting down; retry on another instance');
    if (body.steps !== undefined && body.steps > limits.maxStepsPerSlice) {
      throw new HttpError(400, 'limit_exceeded', `steps: ${body.steps} exceeds this server's limit of ${limits.maxStepsPerSlice} per slice`, 'steps');
    }
    const noBudget = body.steps === undefined && body.epochs === undefined && body.maxSeconds === undefined;
    const seconds = Math.min(body.maxSeconds ?? (noBudget ? limits.defaultSliceSeconds : limits.maxSliceSeconds), limits.maxSliceSeconds);
    if (this.active.has(runId)) throw new HttpError(409, 'training_in_progress', `run "${runId}" is already training on this instance`);

    const slice = new TrainingSlice(runId);
    if (opts.onProgress) slice.on('progress', opts.onProgress);
    this.active.set(runId, slice); // reserve before the first await: same-instance races lose here
    try {
      const run = await store.getRun(runId);
      if (!run) throw new HttpError(404, 'not_found', `no run "${runId}"`);
      const holder = `${hostname()}/${process.pid}/${randomBytes(4).toString('hex')}`;
      const lease = await store.acquireLease(runId, holder, limits.leaseSeconds * 1000);
      let input: WorkerInput;
      let best: CheckpointPointer | null = null;
      try {
        const prepared = opts.prepare
          ? await opts.prepare(run)
          : { text: await loadCorpusText(store, run.corpus), checkpoint: (await store.loadCheckpoint(runId, 'latest'))?.files as CheckpointFiles | undefined };
        const { text, checkpoint } = prepared;
        best = 'best' in prepared ? (prepared.best ?? null) : null;
        const sample = sampleConfigOf(run);
        if (sample.prime && sample.every !== 0) {
          // The vocabulary the slice will train: the checkpoint's, or a fresh run's corpus.
          const vocab = checkpoint ? new Vocab(readCheckpointInfo(checkpoint).vocab) : Vocab.fromText(text);
          checkPrime(vocab, sample.prime, 'config.samplePrime');
        }
        input = {
          runId,
          text,
          model: run.model,
          train: run.train,
          ...(checkpoint ? { checkpoint } : {}),
          limits: { ...(body.steps !== undefined ? { steps: body.steps } : {}), ...(body.epochs !== undefined ? { epochs: body.epochs } : {}), seconds },
          checkpointSeconds: body.checkpointSeconds ?? limits.defaultCheckpointSeconds,
          bestValLoss: (await store.readPointer(runId, 'best'))?.valLoss ?? null,
          progressMs: PROGRESS_MS,
          ...(opts.evalFirst ? { evalFirst: true } : {}),
          sample,
        };
        await store.updateRun(runId, { status: 'training' });
      } catch (e) {
        await store.releaseLease(lease).catch(() => {});
        throw e;
      }
      void slice.run(this.deps, run, lease, input, best).catch((e: unknown) => this.deps.log(`slice of ${runId} crashed: ${String(e)}`));
      slice.done.then(
        () => this.active.delete(runId),
        () => this.active.delete(runId),
      );
      return slice;
    } catch (e) {
      this.active.delete(runId);
      throw e;
    }
  }

  /** Stop every slice (they checkpoint and release their leases); hard-stop what is left after graceMs. */
  async shutdown(graceMs: number): Promise<void> {
    this.closing = true;
    const slices = [...this.active.values()];
    for (const s of slices) s.stop('shutdown');
    const settled = Promise.allSettled(slices.map((s) => s.done));
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      settled.then(() => false),
      new Promise<boolean>((r) => (timer = setTimeout(() => r(true), graceMs))),
    ]);
    clearTimeout(timer);
    if (timedOut) {
      this.deps.log(`shutdown: ${this.active.size} slice(s) did not finish within ${graceMs} ms; terminating`);
      await Promise.allSettled(slices.map((s) => s.terminate()));
    }
  }
}

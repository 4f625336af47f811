// The slices of this instance: one per run, each started under the run's lease with its inputs
// checked first (a 4xx before anything trains), all stopped at shutdown.
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { TrainBody, TrainProgress } from '../../shared/api/schemas.ts';
import { checkPrime, readCheckpointInfo, Vocab } from '../../shared/engine/tf-free.ts';
import type { CheckpointFiles } from '../../shared/engine/types.ts';
import type { CheckpointPointer, RunRecord } from '../../shared/store/types.ts';
import { HttpError } from '../errors.ts';
import { loadCorpusText } from '../runs/corpus.ts';
import { sampleConfigOf } from '../runs/record.ts';
import type { WorkerInput } from './protocol.ts';
import { TrainingSlice, type SliceDeps } from './slice.ts';

const PROGRESS_MS = 250;

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
          ...(this.deps.engine ? { engine: this.deps.engine } : {}),
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

// Drives a long training run as a chain of bounded slices (each one POST /runs/:id/train with
// maxSeconds), so no single request outlives the platform's limit. Lives outside React so it
// keeps going while the user is on another screen, and so the non-TTY mode can reuse it.
import { Api, ApiRequestError, isAbort, type MetricPoint, type Run, type TrainProgress, type TrainSummary } from './api.ts';
import { describeError } from './errors.ts';

export type TrainPhase = 'loading' | 'idle' | 'training' | 'stopping' | 'following';

export interface TrainGoal {
  startEpoch: number;
  /** null = until stopped. */
  targetEpoch: number | null;
  startedAt: number;
}

export interface TrainState {
  phase: TrainPhase;
  run: Run | null;
  points: MetricPoint[];
  progress: TrainProgress | null;
  summary: TrainSummary | null;
  backend: string | null;
  goal: TrainGoal | null;
  slices: number;
  /** What is going on, when it is not obvious (following another client, stopping). */
  note: string | null;
  error: string | null;
}

/** Seconds per training request when the user names none (`--slice-seconds`). */
export const DEFAULT_SLICE_SECONDS = 30;

export interface TrainSessionOptions {
  /** Wall-time budget of one slice; the server checkpoints at the end of each. */
  sliceSeconds?: number;
  /** Minimum ms between change notifications (bounds the UI's re-render rate). */
  notifyMs?: number;
  /** How often to re-read the run while tailing another client's training. */
  followPollMs?: number;
}

// 'shutdown' is not final: the instance went away (scale-down, redeploy) and any other can run the next slice.
const FINAL_REASONS = new Set(['epochs', 'steps', 'diverged', 'aborted']);
/** Back-off before retrying a slice that failed for a reason that may pass (ms). */
const RETRIES = [1000, 2000, 4000, 8000];

function transient(err: unknown): boolean {
  if (!(err instanceof ApiRequestError)) return false;
  return (err.status === 0 && err.code === 'unreachable') || err.status >= 500 || err.status === 429 || err.code === 'lease_lost';
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => {
      clearTimeout(timer);
      resolve();
    }, { once: true });
  });
}

export class TrainSession {
  private state: TrainState = {
    phase: 'loading',
    run: null,
    points: [],
    progress: null,
    summary: null,
    backend: null,
    goal: null,
    slices: 0,
    note: null,
    error: null,
  };
  private listeners = new Set<() => void>();
  private abort: AbortController | null = null;
  private stopRequested = false;
  private notifyTimer: NodeJS.Timeout | null = null;
  private seen = new Set<string>();
  private disposed = false;
  private readonly sliceSeconds: number;
  private readonly notifyMs: number;
  private readonly followPollMs: number;

  constructor(
    private readonly api: Api,
    readonly runId: string,
    opts: TrainSessionOptions = {},
  ) {
    this.sliceSeconds = opts.sliceSeconds ?? DEFAULT_SLICE_SECONDS;
    this.notifyMs = opts.notifyMs ?? 100;
    this.followPollMs = opts.followPollMs ?? 3000;
  }

  getState = (): TrainState => this.state;

  subscribe = (fn: () => void): (() => void) => {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  };

  private get phase(): TrainPhase {
    return this.state.phase;
  }

  get busy(): boolean {
    return this.state.phase === 'training' || this.state.phase === 'stopping' || this.state.phase === 'following';
  }

  /** Load the run and its metric history; if someone is training it, tail their metrics. */
  async load(): Promise<void> {
    if (this.busy) return;
    try {
      const [run, points] = await Promise.all([this.api.getRun(this.runId), this.api.metrics(this.runId)]);
      this.seen.clear();
      const fresh = points.filter((p) => this.remember(p));
      this.set({ run, points: fresh, phase: 'idle', error: null }, true);
      if (run.status === 'training') void this.follow('Another client is training this run — showing its live metrics.');
    } catch (err) {
      this.set({ phase: 'idle', error: describeError(err) }, true);
    }
  }

  async refreshRun(): Promise<void> {
    try {
      this.set({ run: await this.api.getRun(this.runId) }, true);
    } catch (err) {
      this.set({ error: describeError(err) }, true);
    }
  }

  /** Train for `epochs` more epochs, or until stop() when epochs is null. Resolves when the chain ends. */
  async start(epochs: number | null): Promise<void> {
    if (this.busy) return;
    const ctrl = new AbortController();
    this.abort = ctrl;
    this.stopRequested = false;
    let run = this.state.run;
    try {
      run = await this.api.getRun(this.runId);
    } catch (err) {
      this.set({ error: describeError(err) }, true);
      return;
    }
    let epoch = run.epoch;
    const goal: TrainGoal = { startEpoch: epoch, targetEpoch: epochs ? epoch + epochs : null, startedAt: Date.now() };
    this.set({ run, phase: 'training', goal, slices: 0, error: null, note: null, summary: null }, true);

    let failures = 0;
    let idleSlices = 0;
    for (;;) {
      if (this.stopRequested || this.disposed) break;
      const remaining = goal.targetEpoch === null ? null : goal.targetEpoch - epoch;
      if (remaining !== null && remaining < 1e-6) break;
      let summary: TrainSummary | null = null;
      try {
        const body = { maxSeconds: this.sliceSeconds, ...(remaining !== null ? { epochs: remaining } : {}) };
        for await (const ev of this.api.trainStream(this.runId, body, ctrl.signal)) {
          if (ev.type === 'progress') this.onProgress(ev.data);
          else summary = ev.data;
        }
      } catch (err) {
        if (isAbort(err) || ctrl.signal.aborted) break;
        if (err instanceof ApiRequestError && err.status === 409 && err.code !== 'lease_lost') {
          this.set({ phase: 'idle', goal: null }, true);
          void this.follow('Another client is training this run (409) — showing its live metrics instead.');
          return;
        }
        // A long run should survive a hiccup (server restarting, store briefly unavailable).
        if (transient(err) && failures < RETRIES.length && !this.stopRequested) {
          const wait = RETRIES[failures++];
          this.set({ note: `${describeError(err)} Retrying in ${wait / 1000}s (${failures}/${RETRIES.length})…` }, true);
          await sleep(wait, ctrl.signal);
          if (this.phase === 'training') this.set({ note: null }, true);
          continue;
        }
        this.set({ error: describeError(err) }, true);
        break;
      }
      if (!summary) {
        if (ctrl.signal.aborted) break;
        if (failures < RETRIES.length && !this.stopRequested) {
          const wait = RETRIES[failures++];
          this.set({ note: `The training stream ended early; retrying in ${wait / 1000}s (${failures}/${RETRIES.length})…` }, true);
          await sleep(wait, ctrl.signal);
          continue;
        }
        this.set({ error: 'The training stream kept ending without a summary — check the server, then press t to continue.' }, true);
        break;
      }
      failures = 0;
      epoch = summary.epoch;
      this.set({ summary, backend: summary.backend, slices: this.state.slices + 1 }, true);
      if (summary.stopReason === 'diverged') {
        this.set({ error: 'Training diverged (loss blew up) — lower lr or raise gradClip in a new run.' }, true);
        break;
      }
      if (FINAL_REASONS.has(summary.stopReason)) break;
      // A slice can spend its whole budget starting up on a busy machine; give up only on a streak.
      idleSlices = summary.steps === 0 ? idleSlices + 1 : 0;
      if (idleSlices >= 3) {
        this.set({ error: `Three slices in a row made no progress — the server is too busy for ${this.sliceSeconds}s slices; try --slice-seconds 60.` }, true);
        break;
      }
    }
    this.abort = null;
    if (this.disposed) return;
    this.set({ phase: 'idle', note: null }, true);
    await this.refreshRun();
  }

  /**
   * Clean stop: start no further slices. The server finishes the current one on its own (it is
   * bounded and checkpoints at its end), and we keep reading it to show the final summary.
   */
  stop(): void {
    if (this.state.phase === 'training') {
      this.stopRequested = true;
      this.set({ phase: 'stopping', note: `Stopping after this slice (at most ${this.sliceSeconds}s; it checkpoints first).` }, true);
    } else if (this.state.phase === 'following') {
      this.abort?.abort();
    }
  }

  /** Tail the metrics someone else's trainer writes. */
  async follow(note: string): Promise<void> {
    if (this.busy) return;
    const ctrl = new AbortController();
    this.abort = ctrl;
    this.set({ phase: 'following', note, error: null }, true);
    // Stop tailing once the other trainer is done: idle on two polls in a row (a chain of
    // slices is idle only for a moment between them).
    let idlePolls = 0;
    let finished = false;
    const poll = setInterval(() => {
      void this.refreshRun().then(() => {
        idlePolls = this.state.run?.status === 'training' ? 0 : idlePolls + 1;
        if (idlePolls >= 2 && !ctrl.signal.aborted) {
          finished = true;
          ctrl.abort();
        }
      });
    }, this.followPollMs);
    try {
      const after = this.state.points.reduce((m, p) => Math.max(m, p.step), -1);
      for await (const point of this.api.followMetrics(this.runId, ctrl.signal, after >= 0 ? after : undefined)) this.onPoint(point);
    } catch (err) {
      if (!isAbort(err) && !ctrl.signal.aborted) this.set({ error: describeError(err) }, true);
    } finally {
      clearInterval(poll);
    }
    this.abort = null;
    if (this.disposed) return;
    this.set({ phase: 'idle', note: finished ? 'The other client’s training ended — press t to train this run.' : null }, true);
    await this.refreshRun();
  }

  dispose(): void {
    this.disposed = true;
    this.stopRequested = true;
    this.abort?.abort();
    if (this.notifyTimer) clearTimeout(this.notifyTimer);
    this.listeners.clear();
  }

  private onProgress(p: TrainProgress): void {
    this.remember(p);
    const prev = this.state.run;
    const best = prev?.bestValLoss ?? null;
    const run = prev
      ? {
          ...prev,
          step: p.step,
          epoch: p.epoch,
          status: 'training' as const,
          latestValLoss: p.valLoss ?? prev.latestValLoss,
          bestValLoss: p.valLoss !== undefined && (best === null || p.valLoss < best) ? p.valLoss : best,
        }
      : null;
    // Append in place (history only grows); consumers key on points.length.
    this.state.points.push(p);
    this.set({ progress: p, backend: p.backend, run });
  }

  private onPoint(p: MetricPoint): void {
    if (!this.remember(p)) return;
    const run = this.state.run ? { ...this.state.run, step: Math.max(this.state.run.step, p.step), epoch: Math.max(this.state.run.epoch, p.epoch) } : null;
    this.state.points.push(p);
    this.set({ run });
  }

  /** False when this point was already seen (a follow stream replays history). */
  private remember(p: MetricPoint): boolean {
    const key = `${p.segment ?? ''}|${p.step}|${p.trainLoss ?? ''}|${p.valLoss ?? ''}`;
    if (this.seen.has(key)) return false;
    this.seen.add(key);
    return true;
  }

  private set(patch: Partial<TrainState>, now = false): void {
    if (this.disposed) return;
    this.state = { ...this.state, ...patch };
    if (now) {
      if (this.notifyTimer) clearTimeout(this.notifyTimer);
      this.notifyTimer = null;
      this.emit();
    } else if (!this.notifyTimer) {
      this.notifyTimer = setTimeout(() => {
        this.notifyTimer = null;
        this.emit();
      }, this.notifyMs);
    }
  }

  private emit(): void {
    for (const fn of this.listeners) fn();
  }
}

/** One session per run, shared by every screen, stopped all at once on quit. */
export class TrainSessions {
  private sessions = new Map<string, TrainSession>();
  constructor(
    private readonly api: Api,
    private readonly opts: TrainSessionOptions = {},
  ) {}

  get(runId: string): TrainSession {
    let s = this.sessions.get(runId);
    if (!s) {
      s = new TrainSession(this.api, runId, this.opts);
      this.sessions.set(runId, s);
    }
    return s;
  }

  forget(runId: string): void {
    this.sessions.get(runId)?.dispose();
    this.sessions.delete(runId);
  }

  anyTraining(): boolean {
    return [...this.sessions.values()].some((s) => s.getState().phase === 'training' || s.getState().phase === 'stopping');
  }

  disposeAll(): void {
    for (const s of this.sessions.values()) s.dispose();
    this.sessions.clear();
  }
}

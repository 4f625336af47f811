// One run as the TUI shows it: its record and metric history, the chain of training slices it
// drives (functions/client/slice-chain.ts: each one POST /runs/:id/train with maxSeconds), or the
// metrics of another client's training that it tails. Lives outside React so training keeps going
// while the user is on another screen.
import { trainSlices } from '../functions/client/slice-chain.ts';
import { Api, ApiRequestError, isAbort, type MetricPoint, type Run, type TrainBody, type TrainProgress, type TrainSummary } from './api.ts';
import { describeError } from './errors.ts';

export type RunPhase = 'loading' | 'idle' | 'training' | 'stopping' | 'following';

export interface TrainGoal {
  startEpoch: number;
  /** null = until stopped. */
  targetEpoch: number | null;
  startedAt: number;
}

export interface RunSessionState {
  phase: RunPhase;
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

export interface RunSessionOptions {
  /** Wall-time budget of one slice; the server checkpoints at the end of each. */
  sliceSeconds?: number;
  /** Minimum ms between change notifications (bounds the UI's re-render rate). */
  notifyMs?: number;
  /** How often to re-read the run while tailing another client's training. */
  followPollMs?: number;
}

export class RunSession {
  private state: RunSessionState = {
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
    opts: RunSessionOptions = {},
  ) {
    this.sliceSeconds = opts.sliceSeconds ?? DEFAULT_SLICE_SECONDS;
    this.notifyMs = opts.notifyMs ?? 100;
    this.followPollMs = opts.followPollMs ?? 3000;
  }

  getState = (): RunSessionState => this.state;

  subscribe = (fn: () => void): (() => void) => {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  };

  private get phase(): RunPhase {
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
    const goal: TrainGoal = { startEpoch: run.epoch, targetEpoch: epochs ? run.epoch + epochs : null, startedAt: Date.now() };
    this.set({ run, phase: 'training', goal, slices: 0, error: null, note: null, summary: null }, true);

    // The chain's stop and retry rules: functions/client/slice-chain.ts.
    const budget = { sliceSeconds: this.sliceSeconds, ...(epochs ? { epochs, fromEpoch: run.epoch } : { untilStopped: true }) };
    const runSlice = (body: TrainBody, signal: AbortSignal) => this.api.trainStream(this.runId, body, signal);
    try {
      for await (const ev of trainSlices(runSlice, budget, { signal: ctrl.signal, shouldStop: () => this.stopRequested || this.disposed })) {
        if (ev.type === 'progress') this.onProgress(ev.data);
        else if (ev.type === 'done') {
          const s = ev.data;
          this.set({ summary: s, backend: s.backend, slices: this.state.slices + 1, ...(this.phase === 'training' ? { note: null } : {}) }, true);
        } else if (ev.type === 'retry') {
          this.set({ note: `${describeError(ev.error)} Retrying in ${ev.waitMs / 1000}s (${ev.attempt}/${ev.attempts})…` }, true);
        } else if (ev.reason === 'diverged') {
          this.set({ error: 'Training diverged (loss blew up) — lower lr or raise gradClip in a new run.' }, true);
        } else if (ev.reason === 'stalled') {
          this.set({ error: `Three slices in a row made no progress — the server is too busy for ${this.sliceSeconds}s slices; try --slice-seconds 60.` }, true);
        }
      }
    } catch (err) {
      if (err instanceof ApiRequestError && err.status === 409 && err.code !== 'lease_lost') {
        this.abort = null;
        this.set({ phase: 'idle', goal: null }, true);
        void this.follow('Another client is training this run (409) — showing its live metrics instead.');
        return;
      }
      this.set({ error: describeError(err) }, true);
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

  private set(patch: Partial<RunSessionState>, now = false): void {
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
export class RunSessions {
  private sessions = new Map<string, RunSession>();
  constructor(
    private readonly api: Api,
    private readonly opts: RunSessionOptions = {},
  ) {}

  get(runId: string): RunSession {
    let s = this.sessions.get(runId);
    if (!s) {
      s = new RunSession(this.api, runId, this.opts);
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

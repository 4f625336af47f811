// Sampling threads: each hosts BatchSamplers loaded from checkpoint bytes the server thread sends,
// so many streams use every core and the event loop only relays text. The threads start with the
// first checkpoint loaded, not with the pool. A stream goes to the thread with the fewest open
// streams (a hot checkpoint's streams spread over all threads); its text comes back once per turn
// of batched steps. A thread that dies fails its streams (500) and is
// replaced; the replacement reloads every live checkpoint from the bytes kept here.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import {
  checkPrime, EngineInputError, readModelFiles, TextChannel, validateSampleOptions, Vocab, type ChannelStatus, type SampleOptions,
} from '../../shared/engine/tf-free.ts';
import { HttpError } from '../errors.ts';
import type { EngineSettings } from '../../shared/engine/settings.ts';
import type { FromWorker, SamplingWorkerData, ToWorker, WireError } from './protocol.ts';

type Files = { 'model.json': Uint8Array; 'weights.bin': Uint8Array };

/** What the sample route needs of a loaded checkpoint; BatchSampler (in-process) has the same shape. */
export interface LoadedSampler {
  readonly vocab: Vocab;
  /** Streams not yet ended. */
  readonly active: number;
  /** Batched steps run and the stream rows they covered. */
  readonly stats: { steps: number; rowSteps: number };
  open(opts: SampleOptions): TextStream;
  dispose(): void;
}

export interface TextStream extends AsyncIterable<string> {
  cancel(): void;
}

/** URL of the sampling thread's script, from TypeScript source or from the esbuild bundle (see infra/build.mjs). */
export function samplingWorkerUrl(): URL {
  const here = import.meta.url;
  if (here.endsWith('.ts')) return new URL('./worker-dev.mjs', here);
  const candidates = [new URL('./sample-worker.mjs', here), new URL('./functions/sample-worker.mjs', here)];
  return candidates.find((u) => existsSync(fileURLToPath(u))) ?? candidates[0];
}

interface Thread {
  worker: Worker;
  streams: Map<number, RemoteStream>;
  /** Batched-step counts per sampler key, as last reported. */
  stats: Map<string, { steps: number; rowSteps: number }>;
}

export class SamplingPool {
  private threads: Thread[] = [];
  /** Loaded samplers by key, with their bytes for a replacement thread. */
  private readonly live = new Map<string, { files: Files; sampler: PooledSampler }>();
  private nextId = 1;
  /** Bumped by close(): a replacement scheduled before it is not started. */
  private generation = 0;

  constructor(
    readonly size: number,
    private readonly log: (msg: string) => void = () => {},
    /** The server's engine settings, for each thread's tfjs. */
    private readonly engine: EngineSettings = {},
  ) {}

  /**
   * Read a checkpoint here (a corrupt one throws EngineInputError now) and send it to every thread;
   * streams opened before a thread has loaded it wait there.
   */
  load(name: string, files: Files): LoadedSampler {
    const { vocab } = readModelFiles(files);
    this.start();
    const key = `${name}#${this.nextId++}`;
    const own = { 'model.json': files['model.json'], 'weights.bin': files['weights.bin'] };
    const sampler = new PooledSampler(this, key, new Vocab(vocab));
    this.live.set(key, { files: own, sampler });
    // A copy per thread (structured clone): the original stays here for replacements.
    for (const t of this.threads) this.post(t, { type: 'load', key, files: own });
    return sampler;
  }

  /** Start the threads now (each loads its tfjs) rather than with the first load. */
  warm(): void {
    this.start();
  }

  /** Stop every thread; open streams fail. Threads start again on the next load. */
  close(): void {
    const threads = this.threads;
    this.threads = [];
    this.generation++;
    this.live.clear();
    for (const t of threads) this.drop(t, new HttpError(503, 'shutting_down', 'the server is shutting down; retry on another instance'));
    for (const t of threads) void t.worker.terminate();
  }

  /** @internal */
  open(key: string, opts: SampleOptions, streams: Set<RemoteStream>): RemoteStream {
    if (this.threads.length === 0) throw new HttpError(503, 'sampling_unavailable', 'no sampling thread is running; retry shortly');
    const t = this.threads.reduce((a, b) => (b.streams.size < a.streams.size ? b : a));
    const id = this.nextId++;
    const { signal, ...wireOpts } = opts;
    const stream = new RemoteStream(() => this.post(t, { type: 'cancel', id }), () => {
      streams.delete(stream);
      t.streams.delete(id);
      this.reref(t);
    });
    streams.add(stream);
    t.streams.set(id, stream);
    this.reref(t);
    this.post(t, { type: 'open', key, id, opts: wireOpts });
    if (signal) {
      if (signal.aborted) stream.cancel();
      else signal.addEventListener('abort', () => stream.cancel(), { once: true });
    }
    return stream;
  }

  /** @internal Summed over threads. */
  stats(key: string, into: { steps: number; rowSteps: number }): void {
    into.steps = into.rowSteps = 0;
    for (const t of this.threads) {
      const s = t.stats.get(key);
      if (s) (into.steps += s.steps), (into.rowSteps += s.rowSteps);
    }
  }

  /** @internal */
  unload(key: string): void {
    if (!this.live.delete(key)) return;
    for (const t of this.threads) {
      t.stats.delete(key);
      this.post(t, { type: 'dispose', key });
    }
  }

  private start(): void {
    if (this.threads.length === 0) this.threads = Array.from({ length: this.size }, () => this.spawn());
  }

  private spawn(): Thread {
    const worker = new Worker(samplingWorkerUrl(), { name: 'charrnn-sampling', workerData: { engine: this.engine } satisfies SamplingWorkerData });
    const t: Thread = { worker, streams: new Map(), stats: new Map() };
    worker.on('message', (m: FromWorker) => this.receive(t, m));
    let crash = '';
    worker.on('error', (err) => (crash = err.message));
    const startedAt = Date.now();
    worker.on('exit', (code) => {
      const i = this.threads.indexOf(t);
      if (i < 0) return; // closed on purpose
      this.threads.splice(i, 1);
      this.drop(t, new HttpError(500, 'sampling_failed', 'the sampling thread stopped unexpectedly; retry the request'));
      // One that dies at once (a broken install) is retried once a second, not in a tight loop.
      const delay = Date.now() - startedAt < 5000 ? 1000 : 0;
      this.log(`sampling thread exited (code ${code}${crash ? `: ${crash}` : ''}); starting a new one${delay ? ' in 1 s' : ''}`);
      const generation = this.generation;
      setTimeout(() => {
        if (generation !== this.generation) return; // the pool was closed meanwhile
        const next = this.spawn();
        this.threads.push(next);
        for (const [key, { files }] of this.live) this.post(next, { type: 'load', key, files });
      }, delay).unref();
    });
    worker.unref();
    return t;
  }

  private receive(t: Thread, m: FromWorker): void {
    if (m.stats) {
      t.stats.set(m.key, m.stats);
      this.live.get(m.key)?.sampler.refreshStats();
    }
    for (const u of m.updates) {
      const stream = t.streams.get(u.id);
      if (!stream) continue;
      if (u.text) stream.push(u.text);
      if (u.end) stream.end(u.end === 'failed' ? fromWire(u.error!) : null);
    }
  }

  /** Fail a thread's streams. */
  private drop(t: Thread, err: Error): void {
    for (const s of [...t.streams.values()]) s.end(err);
  }

  private post(t: Thread, m: ToWorker): void {
    if (this.threads.includes(t)) t.worker.postMessage(m);
  }

  /** Keep the process alive only while a thread has work (an idle pool must not hold it open). */
  private reref(t: Thread): void {
    if (t.streams.size > 0) t.worker.ref();
    else t.worker.unref();
  }
}

function fromWire(e: WireError): Error {
  if (e.name === 'EngineInputError') return new EngineInputError(e.message, e.field ?? 'checkpoint');
  return new Error(e.message);
}

/** A checkpoint loaded in every thread of the pool. */
class PooledSampler implements LoadedSampler {
  private readonly streams = new Set<RemoteStream>();

  constructor(
    private readonly pool: SamplingPool,
    private readonly key: string,
    readonly vocab: Vocab,
  ) {}

  get active(): number {
    return this.streams.size;
  }

  /** Live counts: updated as the threads report turns. */
  readonly stats = { steps: 0, rowSteps: 0 };

  /** @internal */
  refreshStats(): void {
    this.pool.stats(this.key, this.stats);
  }

  open(opts: SampleOptions): TextStream {
    checkPrime(this.vocab, opts.prime);
    validateSampleOptions(opts);
    return this.pool.open(this.key, opts, this.streams);
  }

  dispose(): void {
    for (const s of [...this.streams]) s.cancel();
    this.pool.unload(this.key);
  }
}

/** The server-side end of a stream running in a thread: text arrives by message, read with `for await`. */
class RemoteStream extends TextChannel implements TextStream {
  constructor(
    private readonly sendCancel: () => void,
    /** The thread is done with it (ended there, or the thread is gone). */
    private readonly settled: () => void,
  ) {
    super();
  }

  /** @internal */
  push(text: string): void {
    this.append(text);
  }

  /** @internal Ended in its thread: `err` when it failed. */
  end(err: Error | null): void {
    this.close(err ? 'failed' : 'done', err);
    this.settled();
  }

  protected override onClose(status: ChannelStatus): void {
    if (status === 'cancelled') this.sendCancel();
  }
}

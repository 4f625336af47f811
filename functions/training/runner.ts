// Where a slice's loop (loop.ts) runs: in a worker thread (wasm/cpu: training off the event loop,
// one tfjs instance per slice) or on this thread (native TensorFlow, where exactly one thread of
// the process may use tfjs; the loop yields between steps, so HTTP keeps being answered). Either
// way the slice talks to it through the same messages, cloned by a MessagePort.
import { createInterface } from 'node:readline';
import { MessageChannel, Worker } from 'node:worker_threads';
import type { ServerMessage, WorkerInput, WorkerMessage } from './protocol.ts';
import { workerUrl } from './worker-url.ts';

export type TrainingThread = 'worker' | 'in-process';

export interface SliceRunner {
  post(msg: ServerMessage): void;
  onMessage(fn: (m: WorkerMessage) => void): void;
  /** A crash the loop could not report itself (a worker that failed to start, out of memory). */
  onError(fn: (e: Error) => void): void;
  /** Settles when the loop is done and its messages are delivered. */
  readonly exited: Promise<void>;
  /** Hard stop (the shutdown grace period is over). In-process there is none: the process exits. */
  terminate(): Promise<void>;
}

export function startRunner(where: TrainingThread, input: WorkerInput, log: (line: string) => void): SliceRunner {
  return where === 'worker' ? workerRunner(input, log) : inProcessRunner(input);
}

function workerRunner(input: WorkerInput, log: (line: string) => void): SliceRunner {
  const url = workerUrl();
  // From source, the shim registers tsx itself; inherited flags (vitest's, tsx's) would only interfere.
  const worker = new Worker(url, {
    workerData: input,
    stdout: true,
    stderr: true,
    ...(url.pathname.endsWith('worker-dev.mjs') ? { execArgv: [] } : {}),
  });
  // Library chatter from the worker goes to the server's log, never to this process's stdout
  // (a CLI's JSON lines) or straight to the terminal (a TUI's screen).
  for (const stream of [worker.stdout, worker.stderr]) {
    createInterface({ input: stream, crlfDelay: Infinity }).on('line', (line) => {
      if (line.trim()) log(line);
    });
  }
  const exited = new Promise<void>((resolve) => worker.on('exit', () => resolve()));
  return {
    post: (msg) => worker.postMessage(msg),
    onMessage: (fn) => void worker.on('message', fn),
    onError: (fn) => void worker.on('error', fn),
    exited,
    terminate: async () => void (await worker.terminate()),
  };
}

function inProcessRunner(input: WorkerInput): SliceRunner {
  const { port1: slice, port2: loop } = new MessageChannel();
  const errors: ((e: Error) => void)[] = [];
  const exited = (async () => {
    try {
      // Loaded here only: tfjs stays out of processes that never train.
      const { runSlice } = await import('./loop.ts');
      await runSlice(input, loop);
    } catch (e) {
      for (const fn of errors) fn(e instanceof Error ? e : new Error(String(e)));
    }
    // The loop's last messages are queued on the port: let them arrive before 'exited'.
    await new Promise<void>((resolve) => setImmediate(resolve));
    loop.close();
    slice.close();
  })();
  return {
    post: (msg) => slice.postMessage(msg),
    onMessage: (fn) => void slice.on('message', fn),
    onError: (fn) => void errors.push(fn),
    exited,
    terminate: async () => {},
  };
}

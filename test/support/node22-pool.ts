// A vitest pool that runs test files in child processes of the pinned Node 22 (test/node22.mjs)
// while vitest itself runs on whatever Node started it: vitest's own `forks` pool, but forked with
// that binary. Everything a test file starts with process.execPath (servers, the bundle, the CLI,
// s3rver, node-gyp builds), every script that calls `node`, and every worker thread it opens then
// run on Node 22 as well.
import { fork, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import type { PoolOptions, PoolWorker, WorkerRequest } from 'vitest/node';
import { node22 } from '../node22.mjs';

export const NODE22_POOL = 'node22-forks';

class Node22Worker implements PoolWorker {
  readonly name = NODE22_POOL;
  readonly cacheFs = true;
  private child?: ChildProcess;

  constructor(private readonly options: PoolOptions) {}

  private get proc(): ChildProcess {
    if (!this.child) throw new Error(`${NODE22_POOL}: the child process is not running`);
    return this.child;
  }

  on(event: string, callback: (arg: any) => void) {
    this.proc.on(event, callback);
  }
  off(event: string, callback: (arg: any) => void) {
    this.proc.off(event, callback);
  }
  send(message: WorkerRequest) {
    this.proc.send(message);
  }
  deserialize(data: unknown) {
    return data;
  }

  async start() {
    // The same entry and IPC as vitest's forks pool (its workers/forks.js speaks structured clone
    // over the IPC channel, which Node 20 and 22 share).
    if (this.child) return;
    const execPath = node22();
    // Node 22 first on PATH too, for the scripts the tests run (gpu-smoke.sh, local-stack.sh: `node …`).
    const PATH = [path.dirname(execPath), this.options.env.PATH ?? process.env.PATH].filter(Boolean).join(path.delimiter);
    this.child = fork(path.join(this.options.distPath, 'workers/forks.js'), [], {
      execPath,
      env: { ...this.options.env, PATH },
      execArgv: this.options.execArgv,
      stdio: 'pipe',
      serialization: 'advanced',
    });
    const { outputStream, errorStream } = this.options.project.vitest.logger;
    this.child.stdout!.pipe(outputStream, { end: false });
    this.child.stderr!.pipe(errorStream, { end: false });
  }

  async stop() {
    const child = this.child;
    if (!child) return;
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      const kill = setTimeout(() => child.kill('SIGKILL'), 500); // as vitest's forks pool: SIGTERM, then SIGKILL
      child.kill();
      await exited;
      clearTimeout(kill);
    }
    child.stdout!.unpipe();
    child.stderr!.unpipe();
    this.child = undefined;
  }
}

/** `pool` for a vitest project whose files run on the pinned Node 22. */
export const node22Pool = { name: NODE22_POOL, createPoolWorker: (options: PoolOptions) => new Node22Worker(options) };

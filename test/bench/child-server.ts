// A server in a fresh node process (the real CLI or a bundle), for cold-start timing: spawn it,
// wait for its "listening on <url>" line, stop it with SIGTERM (SIGKILL if it hangs).
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

export interface ChildServer {
  url: string;
  child: ChildProcess;
  /** performance.now() at spawn. */
  spawnedAt: number;
  /** ms from spawn to the listening line. */
  listenMs: number;
  /** The server's last stderr lines (for failure messages). */
  logTail(): string;
  stop(): Promise<void>;
}

const LISTENING = /listening on (http:\/\/\S+)/;

export async function spawnServer(args: string[], env: NodeJS.ProcessEnv, node = process.execPath, timeoutMs = 60_000): Promise<ChildServer> {
  const spawnedAt = performance.now();
  const child = spawn(node, args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
  const tail: string[] = [];
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(t);
    }
  };
  try {
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no "listening on" line within ${timeoutMs} ms`)), timeoutMs);
      const lines = createInterface({ input: child.stderr! });
      lines.on('line', (line) => {
        const m = LISTENING.exec(line);
        if (m) {
          clearTimeout(timer);
          resolve(m[1]);
        } else if (!line.includes('is already registered')) {
          tail.push(line);
          if (tail.length > 8) tail.shift();
        }
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`server exited (${code}) before listening: ${tail.join(' | ')}`));
      });
    });
    return { url, child, spawnedAt, listenMs: performance.now() - spawnedAt, stop, logTail: () => tail.join(' | ') };
  } catch (e) {
    await stop();
    throw e;
  }
}

/** This process's environment for a child server: open (no token), no inherited store. */
export function childEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, ...extra };
  delete env.CHARRNN_API_TOKEN;
  return env;
}

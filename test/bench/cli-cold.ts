// The `charrnn` command in fresh processes, timed as a user meets it: from spawn to exit (a command
// whose whole output is one table), or from spawn to the first byte on stdout (a sample's first
// character).
import { spawn } from 'node:child_process';

export type Until = 'exit' | 'first-output';

/** ms from spawn to `until`, once (`node argv…`); rejects when the command fails. */
export function timeCommand(argv: string[], env: NodeJS.ProcessEnv, until: Until, node = process.execPath): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(node, argv, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let first: number | null = null;
    let stderr = '';
    child.stdout.once('data', () => (first = performance.now() - t0));
    child.stdout.resume();
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr = (stderr + d).slice(-2000)));
    child.once('error', reject);
    child.once('exit', (code) => {
      const exit = performance.now() - t0;
      if (code !== 0) return reject(new Error(`${argv.slice(1).join(' ')} exited ${code}: ${stderr.trim().split('\n').pop()}`));
      if (until === 'first-output' && first === null) return reject(new Error(`${argv.slice(1).join(' ')} printed nothing`));
      resolve(until === 'exit' ? exit : first!);
    });
  });
}

/** `repeats` runs one after another (the cache of the source bin is warm after the first build). */
export async function timeRepeated(argv: string[], env: NodeJS.ProcessEnv, until: Until, repeats: number, node = process.execPath): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < repeats; i++) out.push(await timeCommand(argv, env, until, node));
  return out;
}

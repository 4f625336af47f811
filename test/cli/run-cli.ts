// The real `charrnn` command (node functions/bin/charrnn.js) in a child process, for the CLI suites:
// a clean environment (no API URL or token, no test-runner loaders) plus `env`; the whole output.
import { spawn } from 'node:child_process';
import path from 'node:path';

export const BIN = path.resolve('functions/bin/charrnn.js');

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function cliEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const k of ['CHARRNN_API_URL', 'CHARRNN_API_TOKEN', 'NODE_OPTIONS']) delete env[k];
  return { ...env, ...extra };
}

export function runCharrnn(args: string[], o: { cwd?: string; env?: Record<string, string>; timeoutMs?: number } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: o.cwd, env: cliEnv(o.env), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`charrnn ${args.join(' ')} timed out\n${stderr}`));
    }, o.timeoutMs ?? 120_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

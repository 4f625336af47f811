// infra/local-stack.sh end to end: it builds, starts s3rver and the bundled server, the server
// stores runs in the bucket, and Ctrl+C (SIGINT to the process group) stops both.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { rel } from './support.ts';

const tmp = mkdtempSync(path.join(tmpdir(), 'charrnn-local-stack-test-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

it('serves the bundle against s3rver and stops both on Ctrl+C', async () => {
  const env: Record<string, string | undefined> = { ...process.env, PORT: '0', KEEP: '1', TMPDIR: tmp, CHARRNN_API_TOKEN: 'stack-token' };
  delete env.NODE_OPTIONS;
  // Own process group, so SIGINT reaches the script and its children as a terminal's Ctrl+C would.
  const child = spawn('bash', [rel('infra/local-stack.sh')], { env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (out += d));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  try {
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no URL in 60 s:\n${out}`)), 60_000);
      const check = () => {
        const m = /charrnn at (http:\/\/[\d.]+:\d+)/.exec(out);
        if (m && out.includes('Ctrl+C stops both')) {
          clearTimeout(timer);
          resolve(m[1]);
        }
      };
      child.stdout.on('data', check);
      void exited.then((code) => {
        clearTimeout(timer);
        reject(new Error(`local-stack exited with ${code}:\n${out}`));
      });
    });
    const s3 = /on s3rver (http:\/\/[\d.]+:\d+)/.exec(out)?.[1];
    expect(s3).toBeDefined();
    expect(out).toContain('token: stack-token');

    expect(await (await fetch(`${url}/healthz`)).json()).toMatchObject({ ok: true });
    const created = await fetch(`${url}/runs`, {
      method: 'POST',
      headers: { authorization: 'Bearer stack-token', 'content-type': 'application/json' },
      body: JSON.stringify({ corpus: 'names', id: 'stack-run', config: { preset: 'tiny' } }),
    });
    expect(created.status).toBe(201);

    // The run went to the bucket (s3rver keeps objects as files under <dir>/<bucket>/<key>).
    const work = readdirSync(tmp).filter((n) => n.startsWith('charrnn-local-stack.'));
    expect(work.length).toBe(1);
    expect(existsSync(path.join(tmp, work[0], 's3/charrnn/local/runs/stack-run/run.json._S3rver_object'))).toBe(true);
    // The server runs from a copy of dist/ with no node_modules beside it.
    expect(readdirSync(path.join(tmp, work[0])).sort()).toEqual(['dist', 's3', 's3rver.log', 'server.log']);

    process.kill(-child.pid!, 'SIGINT');
    expect(await exited).toBe(130);
    expect(out).toContain('local-stack: stopped');
    await expect(fetch(`${url}/healthz`)).rejects.toThrow();
    await expect(fetch(`${s3}/`)).rejects.toThrow();
  } finally {
    if (child.exitCode === null && child.signalCode === null) process.kill(-child.pid!, 'SIGKILL');
  }
});

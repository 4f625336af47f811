// The schedule scripts, executed: the CronJob's shell + curl against a real local HTTP server, and
// cloud-scheduler.sh with a recording `gcloud` on PATH (there is no Google Cloud here).
import { execFile } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { readYaml, rel } from './support.ts';

const run = promisify(execFile);
const temps: string[] = [];
afterEach(() => {
  for (const d of temps.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('CronJob retrain call', () => {
  const cj = readYaml('infra/schedule/cronjob.yaml');
  const c = cj.spec.jobTemplate.spec.template.spec.containers[0];

  /** Runs the CronJob's script against a local server; returns what the server saw. */
  async function runJob(jobEnv: Record<string, string>) {
    expect(c.command).toEqual(['/bin/sh', '-c']);
    const seen: { method?: string; url?: string; headers: IncomingHttpHeaders; body: string }[] = [];
    const server = createServer((req, res) => {
      let body = '';
      req.on('data', (d) => (body += d));
      req.on('end', () => {
        seen.push({ method: req.method, url: req.url, headers: req.headers, body });
        res.writeHead(202, { 'content-type': 'application/json' }).end('{"ok":true}');
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    try {
      const { stdout } = await run('/bin/sh', ['-c', c.args[0]], {
        env: { PATH: process.env.PATH, CHARRNN_URL: `http://127.0.0.1:${port}`, RUN_ID: 'moby-small', CHARRNN_API_TOKEN: 'sched-token', ...jobEnv },
        timeout: 30_000,
      });
      expect(stdout).toContain('{"ok":true}');
      expect(seen.length).toBe(1);
      expect(seen[0].method).toBe('POST');
      expect(seen[0].url).toBe('/runs/moby-small/retrain');
      expect(seen[0].headers.authorization).toBe('Bearer sched-token');
      expect(seen[0].headers['content-type']).toBe('application/json');
      expect(JSON.parse(seen[0].body)).toEqual({});
      return seen[0];
    } finally {
      server.close();
    }
  }

  it('POSTs /runs/<id>/retrain once with the bearer token and the scheduled time as Idempotency-Key', async () => {
    // The CronJob controller names Jobs <cronjob>-<scheduled time in minutes since the epoch>.
    const minutes = Date.UTC(2026, 10, 27, 3, 0, 0) / 60_000;
    const seen = await runJob({ JOB_NAME: `charrnn-retrain-${minutes}`, LEGACY_JOB_NAME: `charrnn-retrain-${minutes}` });
    expect(seen.headers['idempotency-key']).toBe('2026-11-27T03:00:00Z');
    // Older clusters: only the job-name label.
    const legacy = await runJob({ JOB_NAME: '', LEGACY_JOB_NAME: `charrnn-retrain-${minutes + 60}` });
    expect(legacy.headers['idempotency-key']).toBe('2026-11-27T04:00:00Z');
  });

  it('a hand-made Job (no time suffix) keys on the current minute', async () => {
    const before = Math.floor(Date.now() / 60_000);
    const seen = await runJob({ JOB_NAME: 'charrnn-retrain-manual-x7k2p', LEGACY_JOB_NAME: 'charrnn-retrain-manual-x7k2p' });
    const key = seen.headers['idempotency-key'] as string;
    expect(key).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:00Z$/);
    const minute = Date.parse(key) / 60_000;
    expect(minute).toBeGreaterThanOrEqual(before);
    expect(minute).toBeLessThanOrEqual(Math.floor(Date.now() / 60_000));
  });
});

describe('cloud-scheduler.sh', () => {
  function fakeGcloud(dir: string, jobExists: boolean) {
    const log = path.join(dir, 'calls.jsonl');
    const bin = path.join(dir, 'gcloud');
    // Records each call's argv; answers the three look-ups the script makes.
    writeFileSync(
      bin,
      `#!/usr/bin/env node
const fs = require('fs');
const args = process.argv.slice(2);
fs.appendFileSync(${JSON.stringify(log)}, JSON.stringify(args) + '\\n');
const cmd = args.slice(0, 3).join(' ');
if (cmd === 'run services describe') console.log('https://charrnn-abc-uc.a.run.app');
else if (cmd === 'secrets versions access') console.log('tok-123');
else if (cmd === 'scheduler jobs describe') process.exit(${jobExists ? 0 : 1});
`,
    );
    chmodSync(bin, 0o755);
    return () =>
      readFileSync(log, 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as string[]);
  }
  const flag = (argv: string[], name: string) => argv[argv.indexOf(name) + 1];

  it('creates the job: POST <service>/runs/<id>/retrain with the token from Secret Manager', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'charrnn-gcloud-'));
    temps.push(dir);
    const calls = fakeGcloud(dir, false);
    const { stdout } = await run('bash', [rel('infra/schedule/cloud-scheduler.sh')], {
      env: { PATH: `${dir}:${process.env.PATH}`, PROJECT: 'p1', REGION: 'us-central1', RUN_ID: 'moby-small' },
    });
    const create = calls().find((a) => a.slice(0, 4).join(' ') === 'scheduler jobs create http')!;
    expect(create).toBeDefined();
    expect(create[4]).toBe('charrnn-retrain-moby-small');
    expect(flag(create, '--uri')).toBe('https://charrnn-abc-uc.a.run.app/runs/moby-small/retrain');
    expect(flag(create, '--http-method')).toBe('POST');
    expect(flag(create, '--headers')).toBe('Authorization=Bearer tok-123,Content-Type=application/json');
    const job = readYaml('infra/schedule/cloud-scheduler.yaml');
    expect(flag(create, '--schedule')).toBe(job.schedule);
    expect(flag(create, '--attempt-deadline')).toBe(job.attemptDeadline);
    expect(flag(create, '--max-retry-attempts')).toBe(String(job.retryConfig.retryCount));
    expect(flag(create, '--project')).toBe('p1');
    expect(flag(create, '--message-body')).toBe(Buffer.from(job.httpTarget.body, 'base64').toString());
    expect(stdout).toContain('/runs/moby-small/retrain');
  });

  it('updates an existing job instead of failing, and rejects a run id the API would reject', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'charrnn-gcloud-'));
    temps.push(dir);
    const calls = fakeGcloud(dir, true);
    const env = { PATH: `${dir}:${process.env.PATH}`, PROJECT: 'p1', REGION: 'us-central1', SERVICE_URL: 'https://svc.example/' };
    await run('bash', [rel('infra/schedule/cloud-scheduler.sh')], { env: { ...env, RUN_ID: 'r1', BODY: '{"maxSeconds":1200}' } });
    const update = calls().find((a) => a.slice(0, 4).join(' ') === 'scheduler jobs update http')!;
    expect(flag(update, '--uri')).toBe('https://svc.example/runs/r1/retrain');
    expect(flag(update, '--message-body')).toBe('{"maxSeconds":1200}');
    expect(flag(update, '--update-headers')).toContain('Authorization=Bearer tok-123');
    expect(calls().some((a) => a[0] === 'run')).toBe(false); // SERVICE_URL given: no look-up

    const bad = await run('bash', [rel('infra/schedule/cloud-scheduler.sh')], { env: { ...env, RUN_ID: '../x' } }).catch((e) => e);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('is not a run id');
  });
});

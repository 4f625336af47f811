// Retrain end to end on S3 (a local s3rver over HTTP) through a real server socket with a bearer
// token: the CronJob's own shell + curl calls it, the `charrnn retrain` CLI (a child process) calls
// it after the feed object is replaced, and repeats with the same key are answered from the store.
import { execFile, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { readLimits } from '../../functions/settings.ts';
import { startServer, type RunningServer } from '../../functions/server.ts';
import type { RetrainReport } from '../../shared/api/schemas.ts';
import { RunStore } from '../../shared/store/index.ts';
import { S3ObjectStore } from '../../shared/store/s3-store.ts';
import { startS3Server, type S3TestServer } from '../support/s3server.ts';
import { ENGLISH, ENGLISH_2, post, TINY } from './helpers.ts';

const TOKEN = 'retrain-test-token';
const BIN = path.resolve('functions/bin/charrnn.js');
const run = promisify(execFile);

let s3: S3TestServer;
let store: RunStore;
let server: RunningServer;
const auth = { authorization: `Bearer ${TOKEN}` };

beforeAll(async () => {
  s3 = await startS3Server();
  store = new RunStore(new S3ObjectStore(s3.storeUrl('retrain'), { clientConfig: s3.clientConfig }));
  server = await startServer({ port: 0, store, token: TOKEN, limits: readLimits({}, { defaultCheckpointSeconds: 3600 }), log: () => {} });
});
afterAll(async () => {
  await server?.close();
  await s3?.stop();
});

/** `charrnn retrain …` against the server, as a child process. */
function cli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const env: NodeJS.ProcessEnv = { ...process.env, CHARRNN_API_TOKEN: TOKEN };
  delete env.NODE_OPTIONS;
  delete env.CHARRNN_API_URL;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, 'retrain', '--api', server.url, '--run', 'news', ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.once('error', reject);
    child.once('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('retrain on S3 over a real socket', () => {
  it('the CronJob tick, a repeated attempt, a feed update through the CLI, and the report list', async () => {
    await store.putFeed('feeds/news.txt', ENGLISH);
    const created = await fetch(`${server.url}/runs`, post({ corpus: { key: 'feeds/news.txt' }, id: 'news', config: TINY }, auth));
    expect(created.status).toBe(201);
    expect((await fetch(`${server.url}/runs/news/retrain`, post({ steps: 5 }))).status).toBe(401); // the token is required

    // The CronJob's script, unchanged but for its body: it sends {} (the default slice seconds);
    // a step budget keeps the test short.
    const cj = parseYaml(readFileSync('infra/schedule/cronjob.yaml', 'utf8'));
    const script = (cj.spec.jobTemplate.spec.template.spec.containers[0].args[0] as string).replace("--data '{}'", `--data '{"steps":30}'`);
    const minutes = Date.UTC(2026, 10, 27, 3, 0, 0) / 60_000;
    const jobEnv = { PATH: process.env.PATH, CHARRNN_URL: server.url, RUN_ID: 'news', CHARRNN_API_TOKEN: TOKEN, JOB_NAME: `charrnn-retrain-${minutes}` };
    const { stdout } = await run('/bin/sh', ['-c', script], { env: jobEnv, timeout: 60_000 });
    const report = JSON.parse(stdout.slice(stdout.indexOf('{'))) as RetrainReport;
    expect(report).toMatchObject({ runId: 'news', idempotencyKey: '2026-11-27T03:00:00Z', outcome: 'promoted', promoted: true, steps: 30, step: 30 });
    expect(report.afterValLoss!).toBeLessThan(report.beforeValLoss!);

    // The same Job retried (pod restart, Job backoff): same key, the first report, no training.
    const again = await run('/bin/sh', ['-c', script], { env: jobEnv, timeout: 60_000 });
    expect(JSON.parse(again.stdout.slice(again.stdout.indexOf('{')))).toEqual(report);
    expect((await (await fetch(`${server.url}/runs/news`, { headers: auth })).json()).step).toBe(30);

    // The publisher replaces the feed (new text, new characters); the next tick picks it up.
    await store.putFeed('feeds/news.txt', ENGLISH_2 + 'BREAKING: 42 CATS! '.repeat(20));
    const tick = await cli(['--steps', '20', '--idempotency-key', 'tick-2', '--json']);
    expect(tick.code, tick.stderr).toBe(0);
    const second = JSON.parse(tick.stdout) as RetrainReport & { replayed: boolean };
    expect(second.replayed).toBe(false);
    expect(second.corpus.changed).toBe(true);
    expect(second.corpus.addedChars).toEqual(['!', '2', '4', ':', 'A', 'B', 'C', 'E', 'G', 'I', 'K', 'N', 'R', 'S', 'T', 'p']);
    expect(second.steps).toBe(20);
    expect(second.step).toBe(50);
    expect(['promoted', 'kept']).toContain(second.outcome);

    const repeat = await cli(['--steps', '20', '--idempotency-key', 'tick-2']);
    expect(repeat.code, repeat.stderr).toBe(0);
    expect(repeat.stdout).toMatch(new RegExp(`^${second.outcome} \\(repeat: first result\\): run news step 50, 20 steps, .*\\[report ${second.id}\\]\\n$`));

    const listed = (await (await fetch(`${server.url}/runs/news/retrains`, { headers: auth })).json()) as { retrains: RetrainReport[] };
    expect(listed.retrains.map((r) => r.id)).toEqual([second.id, report.id]);
    expect(listed.retrains[0]).toEqual((({ replayed: _, ...r }) => r)(second));
    const runNow = await (await fetch(`${server.url}/runs/news`, { headers: auth })).json();
    expect(runNow.vocabSize).toBe(second.vocabSize.after);

    // A feed the run cannot read: the CLI prints the reason on one line and exits 1.
    await store.putFeed('feeds/news.txt', 'x');
    const bad = await cli(['--steps', '5']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^charrnn: corpus has only one distinct character.*\(report \d{8}T\d{9}Z-[0-9a-f]{8}\)\n$/);
  });
});

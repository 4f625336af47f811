// `charrnn train --store s3://…` end to end against a local S3 server (s3rver over HTTP): the real
// CLI in a child process, configured the AWS way (endpoint and credentials from the environment).
import { spawn } from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RunStore } from '../../shared/store/index.ts';
import { S3ObjectStore } from '../../shared/store/s3-store.ts';
import { startS3Server, type S3TestServer } from '../support/s3server.ts';

const BIN = path.resolve('functions/bin/charrnn.js');
let s3: S3TestServer;

beforeAll(async () => {
  s3 = await startS3Server();
});
afterAll(async () => {
  await s3?.stop();
});

function charrnn(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const env: NodeJS.ProcessEnv = { ...process.env, ...s3.env };
  delete env.CHARRNN_API_URL;
  delete env.NODE_OPTIONS;
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('charrnn CLI on S3', () => {
  it('trains, continues and samples a run whose checkpoints live in the bucket', async () => {
    const store = s3.storeUrl('cli');
    const tiny = ['--hidden', '32', '--seq', '16', '--batch', '8', '--store', store];
    const first = await charrnn(['train', '--corpus', 'names', '--run', 'cli-s3', '--steps', '10', '--json', ...tiny]);
    expect(first.code, first.stderr).toBe(0);
    expect(JSON.parse(first.stdout.trim().split('\n').at(-1)!)).toMatchObject({ done: true, checkpointStep: 10 });
    const second = await charrnn(['train', '--corpus', 'names', '--run', 'cli-s3', '--steps', '5', '--json', ...tiny]);
    expect(second.code, second.stderr).toBe(0);
    expect(JSON.parse(second.stdout.trim().split('\n').at(-1)!)).toMatchObject({ done: true, checkpointStep: 15 });

    const sampled = await charrnn(['sample', '--run', 'cli-s3', '--length', '40', '--seed', '2', '--store', store]);
    expect(sampled.code, sampled.stderr).toBe(0);
    expect([...sampled.stdout.replace(/\n$/, '')]).toHaveLength(40);

    // The checkpoint really is in the bucket, complete, with `latest` on step 15.
    const bucket = new RunStore(new S3ObjectStore(store, { clientConfig: s3.clientConfig }));
    const latest = await bucket.loadCheckpoint('cli-s3', 'latest');
    expect(latest?.step).toBe(15);
    expect(Object.keys(latest!.files).sort()).toEqual(['model.json', 'optimizer.bin', 'state.json', 'weights.bin']);
  });
});

// `charrnn train --store s3://…` end to end against a local S3 server (s3rver over HTTP): the real
// CLI in a child process, configured the AWS way (endpoint and credentials from the environment).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RunStore } from '../../shared/store/index.ts';
import { S3ObjectStore } from '../../shared/store/s3-store.ts';
import { startS3Server, type S3TestServer } from '../support/s3server.ts';
import { runCharrnn } from './run-cli.ts';

let s3: S3TestServer;

beforeAll(async () => {
  s3 = await startS3Server();
});
afterAll(async () => {
  await s3?.stop();
});

const charrnn = (args: string[]) => runCharrnn(args, { env: s3.env });

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

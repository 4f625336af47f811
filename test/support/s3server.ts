// A real, local S3 for tests: s3rver in a child process, on a free port, over a temp directory.
//
//   const s3 = await startS3Server();            // one bucket, created at startup
//   const store = new S3ObjectStore(s3.storeUrl('some/prefix'), { clientConfig: s3.clientConfig });
//   // or, for code that reads the environment (the functions server, the CLI):
//   spawn('node', [...], { env: { ...process.env, ...s3.env, CHARRNN_STORE: s3.storeUrl('x') } });
//   await s3.stop();                             // kills the process, removes the directory
//
// Why a child process: s3rver encrypts ListObjectsV2 continuation tokens with DES, which
// OpenSSL 3 only offers with node's --openssl-legacy-provider (a process-wide flag).
// s3rver accepts the fixed credentials S3RVER/S3RVER and path-style URLs. It does NOT enforce
// If-None-Match / If-Match on writes: conditional semantics can only be tested on the file store.
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';

export interface S3TestServer {
  /** http://127.0.0.1:<port> */
  endpoint: string;
  bucket: string;
  region: string;
  credentials: { accessKeyId: string; secretAccessKey: string };
  /** S3ClientConfig overrides for S3ObjectStore's `clientConfig` option. */
  clientConfig: { endpoint: string; region: string; credentials: { accessKeyId: string; secretAccessKey: string }; forcePathStyle: true };
  /** Environment for processes that configure S3 the standard way. */
  env: Record<string, string>;
  /** s3://<bucket>/<prefix> */
  storeUrl(prefix?: string): string;
  stop(): Promise<void>;
}

const require = createRequire(import.meta.url);

export async function startS3Server(opts: { bucket?: string; startTimeoutMs?: number } = {}): Promise<S3TestServer> {
  const bucket = opts.bucket ?? 'charrnn-test';
  const dir = await mkdtemp(path.join(tmpdir(), 'charrnn-s3rver-'));
  const bin = path.join(path.dirname(require.resolve('s3rver/package.json')), 'bin', 's3rver.js');
  const env = { ...process.env };
  delete env.NODE_OPTIONS; // a test runner's loaders have no business in s3rver
  const child = spawn(
    process.execPath,
    ['--openssl-legacy-provider', bin, '-d', dir, '-a', '127.0.0.1', '-p', '0', '-s', '--configure-bucket', bucket],
    { env, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr = (stderr + d).slice(-4000)));

  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => fail(new Error(`s3rver did not start within ${opts.startTimeoutMs ?? 15_000} ms`)), opts.startTimeoutMs ?? 15_000);
    const fail = (err: Error) => {
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(new Error(`${err.message}${stderr ? `\n${stderr}` : ''}`));
    };
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      const m = /listening on [^:\s]+:(\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        child.stdout.removeAllListeners('data');
        child.stdout.resume(); // keep draining so the child never blocks on a full pipe
        resolve(Number(m[1]));
      }
    });
    child.once('error', fail);
    child.once('exit', (code) => fail(new Error(`s3rver exited with code ${code} before listening`)));
  });
  child.removeAllListeners('exit');
  // A server that dies under a test would otherwise show only as connection errors.
  child.once('exit', (code, signal) => {
    if (!stopped) console.error(`s3rver exited unexpectedly (code ${code}, signal ${signal})${stderr ? `:\n${stderr}` : ''}`);
  });
  // If the test process dies without calling stop(), take the server with it.
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);

  const endpoint = `http://127.0.0.1:${port}`;
  const region = 'us-east-1';
  const credentials = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };
  let stopped: Promise<void> | undefined;
  return {
    endpoint,
    bucket,
    region,
    credentials,
    clientConfig: { endpoint, region, credentials, forcePathStyle: true },
    env: {
      AWS_ENDPOINT_URL_S3: endpoint,
      AWS_REGION: region,
      AWS_ACCESS_KEY_ID: credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
    },
    storeUrl: (prefix = '') => `s3://${bucket}/${prefix.replace(/^\/+/, '')}`,
    stop() {
      stopped ??= (async () => {
        process.removeListener('exit', killOnExit);
        if (child.exitCode === null && child.signalCode === null) {
          const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
          child.kill('SIGTERM');
          const timer = setTimeout(() => child.kill('SIGKILL'), 3_000);
          await exited;
          clearTimeout(timer);
        }
        await rm(dir, { recursive: true, force: true });
      })();
      return stopped;
    },
  };
}

// The server as the container runs it: a real process (the bundle's functions/main.mjs, or
// functions/main.ts through tsx from a checkout) on a free port with a temporary file store and a
// token, driven over HTTP with the project's typed client and SSE reader.
//
//   server       create a run, one slice to commit a checkpoint, then a slice (SSE) and 4 sample
//                streams of that checkpoint at once
//   healthz-gap  /healthz polled every HEALTHZ_POLL_MS meanwhile: the longest time without an answer
//   sigterm      SIGTERM mid-slice: `done` says shutdown, its checkpoint is committed, exit 0 within
//                the grace period
import { ENGINE_ENV } from '../../shared/engine/settings.ts';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { openRunStore } from '../../shared/store/index.ts';
import { createClient, ensureOk, readSse, sseInit, type Client, type SseEvent } from '../client.ts';
import { readLimits } from '../settings.ts';
import { firstLine, fmt, HEALTHZ_POLL_MS, type Backend, type Outcome } from './checks.ts';

const RUN_ID = 'gpu-smoke';
/** A tiny model: the point is the path through the server, not the model. */
const RUN_CONFIG = { preset: 'tiny', seqLen: 32, batchSize: 16, evalEvery: 50, evalChars: 2000, seed: 7 } as const;
const FIRST_SLICE_STEPS = 20;
/** The slice that runs alongside the sample streams. */
const BUSY_SLICE_SECONDS = 4;
const SAMPLE_STREAMS = 4;
const SAMPLE_LENGTH = 300;
/** The SIGTERM slice is stopped after this many steps past the last checkpoint. */
const STEPS_BEFORE_SIGTERM = 3;
/** Start-up includes loading libtensorflow and, on a GPU with no SASS for it, the PTX JIT. */
const READY_TIMEOUT_MS = 300_000;

export interface ServerCheckOptions {
  backend: Backend;
  /** The bundle's directory, or undefined to run functions/main.ts from the checkout at `root`. */
  dist?: string;
  root: string;
  maxHealthzGapMs: number;
}

type ServerRows = { server: Outcome; 'healthz-gap': Outcome; sigterm: Outcome };

interface ServerProcess {
  child: ChildProcess;
  url: Promise<string>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  log(): string;
}

function spawnServer(o: ServerCheckOptions, env: NodeJS.ProcessEnv): ServerProcess {
  const args = o.dist ? [join(o.dist, 'functions/main.mjs')] : ['--import', 'tsx', join(o.root, 'functions/main.ts')];
  const child = spawn(process.execPath, args, { cwd: o.root, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (log += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (log += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  const url = new Promise<string>((resolve, reject) => {
    const onData = () => {
      const m = /listening on (http:\/\/\S+)/.exec(log);
      if (m) resolve(m[1]);
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    void exited.then(({ code, signal }) => reject(new Error(`server exited (${signal ?? code}) before listening`)));
  });
  url.catch(() => {});
  return { child, url, exited, log: () => log };
}

interface Health {
  status: number;
  body: Record<string, unknown> | null;
}

async function getHealth(url: string): Promise<Health> {
  const res = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(5000) });
  const body = (await res.json().catch(() => null)) as Record<string, unknown> | null;
  return { status: res.status, body };
}

/** 200, and `ready` true where the server reports it (servers without the field are ready at 200). */
const isReady = (h: Health) => h.status === 200 && h.body?.ok === true && h.body.ready !== false;

/** What /healthz says, checked against the backend asked for (fields read when the server sends them). */
function judgeHealth(h: Health, backend: Backend): string[] {
  const b = h.body ?? {};
  const problems: string[] = [];
  if (b.backend !== backend) problems.push(`/healthz backend ${String(b.backend)}, want ${backend}`);
  if (backend === 'tensorflow' && 'device' in b && !/gpu/i.test(String(b.device))) problems.push(`/healthz device ${String(b.device)}, want a GPU`);
  return problems;
}

function describeHealth(h: Health): string {
  const b = h.body ?? {};
  const blas = b.blas as { on?: boolean } | undefined;
  return [b.backend, 'device' in b ? `device ${String(b.device)}` : null, blas && typeof blas === 'object' ? `blas ${blas.on ? 'on' : 'off'}` : null]
    .filter(Boolean)
    .join(', ');
}

async function waitReady(srv: ServerProcess, url: string): Promise<Health> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  let last: Health | null = null;
  for (;;) {
    last = await getHealth(url).catch(() => last);
    if (last && isReady(last)) return last;
    if (srv.child.exitCode !== null) throw new Error(`server exited (${srv.child.exitCode}) before /healthz was ready`);
    if (Date.now() > deadline) throw new Error(`/healthz not ready after ${READY_TIMEOUT_MS / 1000} s (last: ${last?.status ?? 'no answer'})`);
    await sleep(HEALTHZ_POLL_MS);
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls /healthz until stopped; the longest time between two ready answers (or since the start). */
function pollHealthz(url: string) {
  let stopped = false;
  let last = performance.now();
  let longest = 0;
  let answers = 0;
  let misses = 0;
  const done = (async () => {
    while (!stopped) {
      const ok = await getHealth(url).then(isReady, () => false);
      const now = performance.now();
      if (ok) {
        longest = Math.max(longest, now - last);
        last = now;
        answers++;
      } else misses++;
      await sleep(HEALTHZ_POLL_MS);
    }
  })();
  return {
    async stop() {
      stopped = true;
      await done;
      return { longestMs: Math.max(longest, performance.now() - last), answers, misses };
    },
  };
}

async function allEvents(res: Response): Promise<SseEvent[]> {
  const out: SseEvent[] = [];
  for await (const ev of readSse(res)) out.push(ev);
  return out;
}

const dataOf = <T>(events: SseEvent[], name: string): T[] => events.filter((e) => e.event === name).map((e) => JSON.parse(e.data) as T);

type Summary = { stopReason: string; checkpointStep: number; step: number; backend: string };

function train(client: Client, json: Record<string, number>) {
  return client.runs[':id'].train.$post({ param: { id: RUN_ID }, json }, sseInit());
}

/** One sample stream of checkpoint `step`: its text, then what `done` said. */
async function sampleStream(client: Client, step: number, seed: number): Promise<{ chars: number; done?: { step: number } }> {
  const res = await ensureOk(await client.runs[':id'].sample.$post({ param: { id: RUN_ID }, json: { length: SAMPLE_LENGTH, seed, temperature: 0.8, checkpoint: step } }, sseInit()));
  const events = await allEvents(res);
  const failed = dataOf<{ error: { message: string } }>(events, 'error')[0];
  if (failed) throw new Error(`sample stream ${seed}: ${failed.error.message}`);
  const text = dataOf<{ text: string }>(events, 'message').map((d) => d.text).join('');
  return { chars: [...text].length, done: dataOf<{ step: number }>(events, 'done')[0] };
}

export async function serverChecks(o: ServerCheckOptions): Promise<ServerRows> {
  const storeDir = await mkdtemp(join(tmpdir(), 'charrnn-gpu-smoke-'));
  const token = randomBytes(16).toString('hex');
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    PORT: '0',
    HOST: '127.0.0.1',
    CHARRNN_STORE: pathToFileURL(storeDir).href,
    CHARRNN_API_TOKEN: token,
    [ENGINE_ENV.backend]: o.backend,
    // The image's setting: the server must refuse to start without TensorFlow on the GPU. On wasm,
    // the native backends' thread layout (one tfjs thread), so this run exercises the GPU's code path.
    ...(o.backend === 'tensorflow' ? { [ENGINE_ENV.requireGpu]: '1' } : { [ENGINE_ENV.oneTfjsThread]: '1' }),
  };
  const graceMs = readLimits(env).shutdownGraceSeconds * 1000;
  const rows: Partial<ServerRows> = {};
  const started = performance.now();
  const srv = spawnServer(o, env);
  try {
    const url = await srv.url;
    const client = createClient(url, { token });
    const health = await waitReady(srv, url);
    const readyS = (performance.now() - started) / 1000;
    const problems = judgeHealth(health, o.backend);

    await ensureOk(await client.runs.$post({ json: { corpus: 'names', id: RUN_ID, config: RUN_CONFIG } }));
    const first = (await (await ensureOk(await client.runs[':id'].train.$post({ param: { id: RUN_ID }, json: { steps: FIRST_SLICE_STEPS } }))).json()) as Summary;
    if (first.checkpointStep !== FIRST_SLICE_STEPS) problems.push(`first slice committed step ${first.checkpointStep}, want ${FIRST_SLICE_STEPS}`);

    // A slice and the sample streams at once, /healthz polled all along.
    const poll = pollHealthz(url);
    let slice: SseEvent[];
    let samples: Awaited<ReturnType<typeof sampleStream>>[];
    try {
      [slice, samples] = await Promise.all([
        train(client, { maxSeconds: BUSY_SLICE_SECONDS }).then(ensureOk).then(allEvents),
        Promise.all(Array.from({ length: SAMPLE_STREAMS }, (_, i) => sampleStream(client, first.checkpointStep, i + 1))),
      ]);
    } finally {
      const gap = await poll.stop();
      rows['healthz-gap'] = {
        result: gap.longestMs <= o.maxHealthzGapMs ? 'pass' : 'FAIL',
        detail: `${fmt(gap.longestMs)} ms (≤ ${o.maxHealthzGapMs}) over ${gap.answers} answers, polled every ${HEALTHZ_POLL_MS} ms${gap.misses ? `, ${gap.misses} not ready` : ''}`,
      };
    }

    const progress = dataOf<{ step: number; backend: string }>(slice, 'progress');
    const done = dataOf<Summary>(slice, 'done')[0];
    if (!done) problems.push(`the slice ended without done (${slice.map((e) => e.event).join(',')})`);
    else if (done.stopReason !== 'seconds' || !(done.checkpointStep > first.checkpointStep)) problems.push(`slice done: ${done.stopReason}, checkpoint ${done.checkpointStep}`);
    const backends = new Set([...progress.map((p) => p.backend), done?.backend]);
    if (backends.size !== 1 || !backends.has(o.backend)) problems.push(`slice backend ${[...backends].join('/')}, want ${o.backend}`);
    for (const [i, s] of samples.entries()) {
      if (s.chars !== SAMPLE_LENGTH || s.done?.step !== first.checkpointStep) problems.push(`stream ${i + 1}: ${s.chars} chars, done ${JSON.stringify(s.done)}`);
    }
    rows.server = {
      result: problems.length ? 'FAIL' : 'pass',
      detail: problems.length
        ? problems.join('; ')
        : `ready in ${readyS.toFixed(1)} s (${describeHealth(health)}); slice to step ${done!.checkpointStep} with ${SAMPLE_STREAMS}×${SAMPLE_LENGTH} chars streamed from step ${first.checkpointStep}`,
    };

    rows.sigterm = await sigtermMidSlice(srv, client, storeDir, done?.checkpointStep ?? first.checkpointStep, graceMs);
  } catch (e) {
    const why = `${firstLine(e)}${srv.log() ? ` | server: ${srv.log().trim().split('\n').slice(-2).join(' / ')}` : ''}`;
    rows.server ??= { result: 'FAIL', detail: why };
    rows['healthz-gap'] ??= { result: 'FAIL', detail: `not measured: ${why}` };
    rows.sigterm ??= { result: 'FAIL', detail: `not reached: ${why}` };
  } finally {
    if (srv.child.exitCode === null && srv.child.signalCode === null) srv.child.kill('SIGKILL');
    await srv.exited;
    await rm(storeDir, { recursive: true, force: true });
  }
  return rows as ServerRows;
}

async function sigtermMidSlice(srv: ServerProcess, client: Client, storeDir: string, before: number, graceMs: number): Promise<Outcome> {
  // A budget far past the grace period, so only the signal can end it.
  const res = await ensureOk(await train(client, { maxSeconds: 600, checkpointSeconds: 600 }));
  let signalledAt = 0;
  let done: Summary | undefined;
  for await (const ev of readSse(res)) {
    if (ev.event === 'progress' && !signalledAt && (JSON.parse(ev.data) as { step: number }).step >= before + STEPS_BEFORE_SIGTERM) {
      srv.child.kill('SIGTERM');
      signalledAt = performance.now();
    }
    if (ev.event === 'done') done = JSON.parse(ev.data) as Summary;
  }
  if (!signalledAt) return { result: 'FAIL', detail: 'the slice ended before SIGTERM was sent' };
  const exit = await Promise.race([srv.exited, sleep(graceMs + 5000).then(() => null)]);
  const tookMs = performance.now() - signalledAt;
  const latest = (await openRunStore(pathToFileURL(storeDir).href).readPointer(RUN_ID, 'latest'))?.step;
  const problems: string[] = [];
  if (!exit) problems.push(`still running ${fmt(tookMs / 1000)} s after SIGTERM`);
  else if (exit.code !== 0) problems.push(`exit ${exit.signal ?? exit.code}`);
  if (tookMs > graceMs) problems.push(`took ${fmt(tookMs / 1000)} s, grace ${graceMs / 1000} s`);
  if (done?.stopReason !== 'shutdown') problems.push(`done: ${done ? done.stopReason : 'never sent'}`);
  if (!(done && done.checkpointStep > before && latest === done.checkpointStep)) problems.push(`checkpoint ${done?.checkpointStep}, latest ${latest}, before ${before}`);
  return {
    result: problems.length ? 'FAIL' : 'pass',
    detail: problems.length
      ? problems.join('; ')
      : `done: shutdown at step ${done!.checkpointStep} (committed as latest), exit 0 in ${fmt(tookMs / 1000)} s (grace ${graceMs / 1000} s)`,
  };
}

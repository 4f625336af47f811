// `npm run load [-- --streams 20 --seconds 30 --length 3000 --api http://127.0.0.1:PORT --json]`
// Loopback only. Creates a small run on `names` with a first checkpoint, then trains one slice (SSE)
// while `--streams` sampling streams run back to back for `--seconds`. Reports stream completions,
// event-loop stall (in-process server only), RSS, aggregate sampled chars/s and /healthz latency.
// Exits 1 if a stream failed, the slice failed, or the event loop stalled longer than 200 ms
// (--max-stall-ms), 2 on a usage error (a non-loopback --api among them).
import { setMaxListeners } from 'node:events';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { readSse } from '../../functions/client.ts';
import { Report, fmtInt, fmtMs, machineInfo } from './report.ts';
import { quietly } from './quiet.ts';
import { streamSample, type StreamResult } from './sample-stream.ts';
import { percentile, round } from './stats.ts';

/** Default of --max-stall-ms: the longest event-loop stall the server may show. */
const STALL_TARGET_MS = 200;
const PROBE_MS = 250;
/** In-flight streams get this long after the deadline to finish before they count as failed. */
const DRAIN_MS = 120_000;
const RUN_CONFIG = { preset: 'tiny', seqLen: 32, batchSize: 16, evalEvery: 50, evalChars: 2000 } as const;

interface Options {
  streams: number;
  seconds: number;
  length: number;
  api: string | null;
  json: boolean;
  maxStallMs: number;
}

class UsageError extends Error {}

function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      streams: { type: 'string', default: '20' },
      seconds: { type: 'string', default: '30' },
      length: { type: 'string', default: '3000' },
      api: { type: 'string' },
      json: { type: 'boolean', default: false },
      'max-stall-ms': { type: 'string', default: String(STALL_TARGET_MS) },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    console.log('usage: npm run load -- [--streams 20] [--seconds 30] [--length 3000] [--api http://127.0.0.1:PORT] [--max-stall-ms 200] [--json]');
    process.exit(0);
  }
  const int = (name: string, raw: string, max: number) => {
    const n = Number(raw);
    if (!Number.isInteger(n) || n < 1 || n > max) throw new UsageError(`--${name} must be an integer from 1 to ${max}, got "${raw}"`);
    return n;
  };
  return {
    streams: int('streams', values.streams, 200),
    seconds: int('seconds', values.seconds, 600),
    length: int('length', values.length, 20_000),
    api: values.api ? loopbackUrl(values.api) : null,
    json: values.json,
    maxStallMs: (() => {
      const n = Number(values['max-stall-ms']);
      if (!(n >= 0)) throw new UsageError(`--max-stall-ms must be a number of milliseconds, got "${values['max-stall-ms']}"`);
      return n;
    })(),
  };
}

/** The load only ever goes to this machine: anything but a loopback http(s) URL is refused. */
function loopbackUrl(raw: string): string {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw new UsageError(`--api: "${raw}" is not a URL (e.g. http://127.0.0.1:8080)`);
  }
  const host = u.hostname.replace(/^\[|\]$/g, '');
  const loopback = host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
  if (!loopback || (u.protocol !== 'http:' && u.protocol !== 'https:')) {
    throw new UsageError(`--api must be a loopback address (127.0.0.1, ::1 or localhost): refusing ${raw}`);
  }
  return u.origin;
}

const authHeaders = (): Record<string, string> => (process.env.CHARRNN_API_TOKEN ? { authorization: `Bearer ${process.env.CHARRNN_API_TOKEN}` } : {});

async function postJson<T>(url: string, body: unknown): Promise<T> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...authHeaders() }, body: JSON.stringify(body) });
  if (!res.ok) throw new Error(`POST ${new URL(url).pathname}: HTTP ${res.status} ${(await res.text()).slice(0, 200)}`);
  return (await res.json()) as T;
}

/** The run under load: created on `names`, with a first checkpoint so sampling works at once. */
async function createRun(api: string): Promise<string> {
  const run = await postJson<{ id: string }>(`${api}/runs`, { corpus: 'names', name: `load ${Date.now()}`, config: RUN_CONFIG });
  await postJson(`${api}/runs/${run.id}/train`, { steps: 5 });
  return run.id;
}

interface TrainOutcome {
  progress: number;
  summary: { step: number; steps: number; charsPerSec: number | null; stopReason: string } | null;
  error: string | null;
}

/** One training slice over SSE, for the whole load window. */
async function trainSlice(api: string, runId: string, seconds: number): Promise<TrainOutcome> {
  const out: TrainOutcome = { progress: 0, summary: null, error: null };
  try {
    const res = await fetch(`${api}/runs/${runId}/train`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream', ...authHeaders() },
      body: JSON.stringify({ maxSeconds: seconds, checkpointSeconds: 5 }),
    });
    if (!res.ok) return { ...out, error: `HTTP ${res.status} ${(await res.text()).slice(0, 200)}` };
    for await (const ev of readSse(res)) {
      if (ev.event === 'progress') out.progress++;
      else if (ev.event === 'done') out.summary = JSON.parse(ev.data) as TrainOutcome['summary'];
      else if (ev.event === 'error') out.error = ev.data.slice(0, 300);
    }
    if (!out.summary && !out.error) out.error = 'stream closed before done';
  } catch (e) {
    out.error = e instanceof Error ? e.message : String(e);
  }
  return out;
}

/** One client that samples back to back until the deadline (the stream in flight finishes). */
async function sampler(api: string, runId: string, length: number, deadline: number, index: number, signal: AbortSignal): Promise<StreamResult[]> {
  const results: StreamResult[] = [];
  // One listener on the shared drain signal per client, forwarding to the request in flight: fetch
  // adds a listener to the signal it is given and drops it only when the request is collected.
  let current: AbortController | null = null;
  const forward = () => current?.abort();
  signal.addEventListener('abort', forward, { once: true });
  try {
    for (let k = 0; performance.now() < deadline && !signal.aborted; k++) {
      current = new AbortController();
      results.push(await streamSample(api, runId, { length, seed: index * 1000 + k }, current.signal));
    }
  } finally {
    signal.removeEventListener('abort', forward);
  }
  return results;
}

/** /healthz latency and this process's RSS, every PROBE_MS. */
function startProbes(api: string) {
  const health: number[] = [];
  const healthErrors: string[] = [];
  const rss: { t: number; mb: number }[] = [];
  const t0 = performance.now();
  let busy = false;
  const timer = setInterval(() => {
    rss.push({ t: performance.now() - t0, mb: process.memoryUsage.rss() / 2 ** 20 });
    if (busy) return; // a slow probe is still out: its latency will show it
    busy = true;
    const s = performance.now();
    fetch(`${api}/healthz`)
      .then(async (r) => {
        await r.arrayBuffer();
        if (r.ok) health.push(performance.now() - s);
        else healthErrors.push(`HTTP ${r.status}`);
      })
      .catch((e: unknown) => healthErrors.push(e instanceof Error ? e.message : String(e)))
      .finally(() => (busy = false));
  }, PROBE_MS);
  return { health, healthErrors, rss, stop: () => clearInterval(timer) };
}

async function main(): Promise<number> {
  const opts = parseOptions(process.argv.slice(2));
  const report = new Report(opts.json);
  let api = opts.api;
  let close = async () => {};
  const inProcess = !api;
  if (inProcess) {
    const { startServer } = await import('../../functions/server.ts');
    const { readLimits } = await import('../../functions/settings.ts');
    const dir = await mkdtemp(path.join(tmpdir(), 'charrnn-load-'));
    const server = await quietly(() => startServer({
      port: 0, host: '127.0.0.1', storeUrl: pathToFileURL(dir).href, token: '',
      limits: readLimits({}, { maxSampleStreams: opts.streams + 8 }), log: (m) => report.note(`server: ${m}`),
    }));
    api = server.url;
    close = async () => {
      await server.close(5000);
      await rm(dir, { recursive: true, force: true });
    };
  }
  const base = api!;
  try {
    const health = (await (await fetch(`${base}/healthz`)).json()) as { backend: string | null };
    const backend = health.backend ?? 'unknown';
    const m = machineInfo();
    report.add({
      bench: 'machine', config: '-', backend, figures: { ...m, server: inProcess ? 'in-process' : base },
      text: `${m.cpu} ×${m.nproc}, node ${m.node}, load ${m.load1m}; server ${inProcess ? 'in-process' : base}`,
    });
    const runId = await createRun(base);
    const config = `${opts.streams}×${opts.length}`;

    const loop = inProcess ? monitorEventLoopDelay({ resolution: 10 }) : null;
    loop?.enable();
    const probes = startProbes(base);
    const rssStart = process.memoryUsage.rss() / 2 ** 20;
    const t0 = performance.now();
    const deadline = t0 + opts.seconds * 1000;
    const drain = new AbortController();
    setMaxListeners(opts.streams + 10, drain.signal); // one listener per client
    const drainTimer = setTimeout(() => drain.abort(), opts.seconds * 1000 + DRAIN_MS);
    const [training, perClient] = await Promise.all([
      trainSlice(base, runId, opts.seconds),
      Promise.all(Array.from({ length: opts.streams }, (_, i) => sampler(base, runId, opts.length, deadline, i, drain.signal))),
    ]);
    clearTimeout(drainTimer);
    const wallS = (performance.now() - t0) / 1000;
    probes.stop();
    loop?.disable();
    const rssEnd = process.memoryUsage.rss() / 2 ** 20;

    const results = perClient.flat();
    const failed = results.filter((r) => !r.ok);
    const chars = results.reduce((n, r) => n + r.chars, 0);
    const ttfc = results.filter((r) => r.ok).map((r) => r.firstCharMs);
    report.add({
      bench: 'streams', config, backend,
      figures: {
        streams: opts.streams, length: opts.length, seconds: round(wallS, 1), ok: results.length - failed.length, failed: failed.length,
        aggregate_chars_per_sec: round(chars / wallS), p50_first_char_ms: round(percentile(ttfc, 50)), p95_first_char_ms: round(percentile(ttfc, 95)),
        ...(failed.length ? { first_error: failed[0].error! } : {}),
      },
      text:
        `${results.length - failed.length} ok, ${failed.length} failed${failed.length ? ` (${failed[0].error})` : ''}; ${fmtInt(chars / wallS)} chars/s aggregate over ${wallS.toFixed(1)} s; ` +
        `first char p50 ${fmtMs(percentile(ttfc, 50))}, p95 ${fmtMs(percentile(ttfc, 95))}`,
    });

    const stallMax = loop ? loop.max / 1e6 : NaN;
    const stallP99 = loop ? loop.percentile(99) / 1e6 : NaN;
    const stallOk = !loop || stallMax <= opts.maxStallMs;
    report.add({
      bench: 'stall', config, backend,
      figures: loop
        ? { max_ms: round(stallMax), p99_ms: round(stallP99), mean_ms: round(loop.mean / 1e6), target_max_ms: opts.maxStallMs, ok: stallOk }
        : { measured: false },
      text: loop
        ? `event-loop delay max ${fmtMs(stallMax)}, p99 ${fmtMs(stallP99)} (target max ≤ ${opts.maxStallMs} ms: ${stallOk ? 'ok' : 'MISSED'})`
        : 'not measured (external server: run without --api to measure it in-process)',
    });

    const rssMax = Math.max(rssStart, rssEnd, ...probes.rss.map((r) => r.mb));
    report.add({
      bench: 'rss', config, backend,
      figures: inProcess
        ? { start_mb: round(rssStart), max_mb: round(rssMax), end_mb: round(rssEnd), samples: probes.rss.length }
        : { measured: false },
      text: inProcess ? `RSS start ${fmtInt(rssStart)} MB, max ${fmtInt(rssMax)} MB, end ${fmtInt(rssEnd)} MB (server + load client in one process)` : 'not measured (external server)',
    });

    const h = probes.health;
    report.add({
      bench: 'healthz', config, backend,
      figures: { probes: h.length, errors: probes.healthErrors.length, p50_ms: round(percentile(h, 50), 2), p99_ms: round(percentile(h, 99), 2), max_ms: round(Math.max(...h), 2) },
      text: `${h.length} probes every ${PROBE_MS} ms, ${probes.healthErrors.length} errors; p50 ${fmtMs(percentile(h, 50))}, p99 ${fmtMs(percentile(h, 99))}, max ${fmtMs(Math.max(...h))}`,
    });

    const s = training.summary;
    report.add({
      bench: 'train', config: `run ${runId}`, backend,
      figures: { progress_events: training.progress, steps: s?.steps ?? 0, chars_per_sec: s?.charsPerSec ?? null, stop_reason: s?.stopReason ?? null, error: training.error },
      text: training.error
        ? `slice FAILED: ${training.error}`
        : `slice trained ${s!.steps} steps at ${fmtInt(s!.charsPerSec ?? NaN)} chars/s (${s!.stopReason}), ${training.progress} progress events`,
    });
    if (!inProcess) await fetch(`${base}/runs/${runId}`, { method: 'DELETE', headers: authHeaders() }).catch(() => {});
    return failed.length === 0 && stallOk && !training.error ? 0 : 1;
  } finally {
    await close();
  }
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    console.error(`load: ${e instanceof Error ? e.message : String(e)}`);
    process.exit(2);
  },
);

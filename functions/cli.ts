// The `charrnn` command line. It only speaks HTTP: with --api (or CHARRNN_API_URL) to a running
// server, otherwise to the functions started in this process on 127.0.0.1 (port chosen by the OS)
// over the given store. Output: progress or generated text on stdout; one-line errors on stderr.
import { mkdir, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Command, InvalidArgumentError, Option } from 'commander';
import { unzipSync } from 'fflate';
import type { RetrainReport, Run, TrainBody, TrainProgress, TrainSummary } from '../shared/api/schemas.ts';
import { BUILTIN_CORPORA, isBuiltinCorpus as isBuiltin } from '../shared/builtin-corpora.mjs';
import { runIdFromName } from '../shared/run-id.ts';
import { describePresets, PRESETS, type Preset } from '../shared/presets.ts';
import { readCorpusFile } from './client/corpus-file.ts';
import { trainSlice, trainSlices } from './client/slice-chain.ts';
import { ApiRequestError, createClient, ensureOk, readSse, sseInit, uploadCorpus, type Client } from './client.ts';
import { readClientSettings, readSettings } from './settings.ts';
import { VERSION } from './version.ts';
import { SITE_FILES } from './export/page/site.mjs';
import { definedFields } from '../shared/defined.ts';

// ---- value parsers (commander names the flag when one throws) ----

const positiveInt = (v: string) => {
  const n = Number(v);
  if (!/^\d+$/.test(v.trim()) || !Number.isSafeInteger(n) || n < 1) throw new InvalidArgumentError('must be a positive integer');
  return n;
};
const nonNegativeInt = (v: string) => {
  const n = Number(v);
  if (!/^\d+$/.test(v.trim()) || !Number.isSafeInteger(n)) throw new InvalidArgumentError('must be a non-negative integer');
  return n;
};
const positiveNumber = (v: string) => {
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('must be a positive number');
  return n;
};
const numberIn = (lo: number, hi: number, loOpen = false) => (v: string) => {
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n) || (loOpen ? n <= lo : n < lo) || n > hi) {
    throw new InvalidArgumentError(`must be a number in ${loOpen ? '(' : '['}${lo}, ${hi}]`);
  }
  return n;
};
const checkpointRef = (v: string): 'latest' | 'best' | number => {
  if (v === 'latest' || v === 'best') return v;
  if (/^\d+$/.test(v)) return Number(v);
  throw new InvalidArgumentError('must be latest, best or a step number');
};
const url = (v: string) => {
  try {
    const u = new URL(v);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error();
    return v;
  } catch {
    throw new InvalidArgumentError('must be an http(s) URL');
  }
};

/** A user-facing failure: printed as one line, exit 1. */
class CliError extends Error {}

// ---- connection ----

interface Connection {
  client: Client;
  baseUrl: string;
  close(): Promise<void>;
}

/** --store accepts URLs (file://, s3://) and, for convenience, plain directory paths. */
function storeUrlArg(store: string): string {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(store) ? store : pathToFileURL(path.resolve(store)).href;
}

async function connect(opts: { api?: string; store?: string }): Promise<Connection> {
  const { apiUrl, token } = readClientSettings();
  const api = opts.api ?? apiUrl;
  if (api) return { client: createClient(api, token ? { token } : {}), baseUrl: api, close: async () => {} };
  // Embedded mode: the server loads only here, so `--api` use stays light, and it loads tfjs only
  // for the first train or sample (`runs` never does). Library chatter (tfjs banners) must not mix
  // with the generated text or the JSON lines on stdout.
  for (const k of ['log', 'info', 'warn', 'debug'] as const) console[k] = (...a: unknown[]) => console.error(...a);
  const { startServer } = await import('./server.ts');
  // One command serves one stream: sampling on this thread, whose tfjs is loaded anyway, starts
  // faster than threads that each load their own (bundle, first character ~0.75 s instead of ~1.15 s
  // with two threads). CHARRNN_SAMPLE_THREADS still wins.
  const settings = readSettings();
  const { limits } = settings;
  const server = await startServer({
    settings,
    port: 0,
    host: '127.0.0.1',
    token: '',
    backendInit: 'first-use',
    limits: { ...limits, sampleThreads: limits.sampleThreads ?? 0 },
    ...(opts.store ? { storeUrl: storeUrlArg(opts.store) } : {}),
  });
  return { client: createClient(server.url), baseUrl: server.url, close: () => server.close() };
}

async function withConnection<T>(opts: { api?: string; store?: string }, fn: (c: Client, baseUrl: string) => Promise<T>): Promise<T> {
  const conn = await connect(opts);
  try {
    return await fn(conn.client, conn.baseUrl);
  } finally {
    await conn.close();
  }
}

// ---- train ----

interface TrainOpts {
  corpus: string;
  run?: string;
  steps?: number;
  epochs?: number;
  seconds?: number;
  preset?: Preset;
  layers?: number;
  hidden?: number;
  seq?: number;
  batch?: number;
  lr?: number;
  dropout?: number;
  seed?: number;
  store?: string;
  json?: boolean;
  api?: string;
}

/** The run id for --run (or the corpus file's name): the server's rule for a name, 'run' when nothing is left. */
export function runIdArg(name: string): string {
  return runIdFromName(name) || 'run';
}

/** Fail early (before any server starts) on a corpus that is neither built in nor a file. */
async function checkCorpusArg(corpus: string): Promise<void> {
  if (isBuiltin(corpus)) return;
  const info = await stat(corpus).catch(() => null);
  if (!info?.isFile()) throw new CliError(`--corpus: "${corpus}" is neither a built-in corpus (${BUILTIN_CORPORA.join(', ')}) nor a readable file`);
}

/** A built-in name as is; a file uploaded with POST /corpora, named after the file. */
async function uploadCorpusArg(client: Client, baseUrl: string, corpus: string): Promise<{ corpus: string; corpusName: string }> {
  if (isBuiltin(corpus)) return { corpus, corpusName: corpus };
  const file = await readCorpusFile(corpus);
  return { corpus: (await uploadCorpus(client, file.bytes, baseUrl)).ref, corpusName: file.name };
}

async function train(opts: TrainOpts): Promise<void> {
  await checkCorpusArg(opts.corpus);
  await withConnection(opts, async (client, baseUrl) => {
    const name = opts.run ?? path.basename(opts.corpus).replace(/\.[^.]+$/, '');
    const id = runIdArg(name);
    const modelFlags = definedFields({ preset: opts.preset, layers: opts.layers, hidden: opts.hidden, seqLen: opts.seq, batchSize: opts.batch, lr: opts.lr, dropout: opts.dropout, seed: opts.seed });
    // --seconds is also the budget `auto` sizes a new run for.
    const config = { ...modelFlags, ...definedFields({ budgetSeconds: opts.seconds }) };
    const existing = await client.runs[':id'].$get({ param: { id } });
    let run: Run;
    if (existing.status === 404) {
      const { corpus, corpusName } = await uploadCorpusArg(client, baseUrl, opts.corpus);
      const created = await ensureOk(await client.runs.$post({ json: { id, name, corpus, corpusName, ...(Object.keys(config).length ? { config } : {}) } }));
      run = (await created.json()) as Run;
      if (!opts.json) console.error(`created run ${run.id}: ${run.model.layers}x${run.model.hidden} ${run.model.cell} on ${run.corpusName} (${run.params ?? '?'} params; ${run.sizing ?? 'size not recorded'})`);
    } else {
      run = (await (await ensureOk(existing)).json()) as Run;
      if (isBuiltin(opts.corpus) ? run.corpus !== `builtin:${opts.corpus}` : run.corpusName !== path.basename(opts.corpus)) {
        console.error(`run ${id} exists on corpus ${run.corpusName}: continuing it on that corpus (pick another --run for ${opts.corpus})`);
      }
      if (Object.keys(modelFlags).length) console.error(`run ${id} exists: continuing it with its own configuration (model flags ignored)`);
      if (!opts.json) console.error(`continuing run ${run.id} from step ${run.step}`);
    }

    // A budget longer than one slice is trained as several slices, each resuming the last, by the
    // chain's stop and retry rules (functions/client/slice-chain.ts).
    const budget = {
      ...(opts.steps !== undefined ? { steps: opts.steps } : {}),
      ...(opts.epochs !== undefined ? { epochs: opts.epochs, fromEpoch: run.epoch } : {}),
      ...(opts.seconds !== undefined ? { seconds: opts.seconds } : {}),
    };
    const runSlice = (body: TrainBody, signal: AbortSignal) => trainSlice(client, baseUrl, id, body, signal);
    for await (const ev of trainSlices(runSlice, budget)) {
      if (ev.type === 'progress') printProgress(ev.data, !!opts.json);
      else if (ev.type === 'done') printSummary(ev.data, !!opts.json);
      else if (ev.type === 'retry') console.error(`${ev.error.message}; retrying in ${ev.waitMs / 1000}s (${ev.attempt}/${ev.attempts})`);
      else if (ev.reason === 'stalled') throw new CliError('three slices in a row made no progress: the server is too busy; try again later');
    }
  });
}

const fmt = (n: number | null | undefined, digits = 3) => (n === null || n === undefined ? '-' : n.toFixed(digits));

let lastHumanLine = 0;

function printProgress(p: TrainProgress, json: boolean) {
  if (json) {
    const line: Record<string, unknown> = { step: p.step, epoch: p.epoch };
    if (p.trainLoss !== undefined) line.trainLoss = p.trainLoss;
    if (p.valLoss !== undefined) line.valLoss = p.valLoss;
    if (p.charsPerSec !== undefined) line.charsPerSec = p.charsPerSec;
    if (p.sample) line.sample = p.sample;
    process.stdout.write(JSON.stringify(line) + '\n');
    return;
  }
  // A line per eval or sample, and at most one a second in between: readable at any speed.
  const now = Date.now();
  if (p.valLoss === undefined && !p.sample && now - lastHumanLine < 1000) return;
  lastHumanLine = now;
  const parts = [`step ${p.step}`, `epoch ${p.epoch.toFixed(2)}`, `loss ${fmt(p.trainLoss)}`];
  if (p.valLoss !== undefined) parts.push(`val ${fmt(p.valLoss)} (${fmt(p.valBpc)} bpc)`);
  if (p.charsPerSec !== undefined) parts.push(`${Math.round(p.charsPerSec)} chars/s`);
  if (p.etaSeconds !== null) parts.push(`eta ${Math.round(p.etaSeconds)}s`);
  process.stdout.write(parts.join('  ') + '\n');
  // The sample's own line breaks stay; a bar sets its lines apart from the progress lines.
  if (p.sample) process.stdout.write(`  ── sample at step ${p.sample.step}\n${p.sample.text.split('\n').map((l) => `  │ ${l}`).join('\n')}\n`);
}

function printSummary(s: TrainSummary, json: boolean) {
  if (json) {
    process.stdout.write(JSON.stringify({ done: true, ...s }) + '\n');
    return;
  }
  process.stdout.write(
    `${s.stopReason === 'diverged' ? 'diverged' : 'done'}: run ${s.runId} at step ${s.step} (epoch ${s.epoch.toFixed(2)}), ` +
      `loss ${fmt(s.trainLoss)}, val ${fmt(s.valLoss)}, best ${fmt(s.bestValLoss)}, ${s.steps} steps in ${s.seconds.toFixed(1)}s on ${s.backend} (${s.stopReason})\n`,
  );
}

// ---- retrain ----

interface RetrainOpts {
  run: string;
  steps?: number;
  epochs?: number;
  seconds?: number;
  idempotencyKey?: string;
  json?: boolean;
  store?: string;
  api?: string;
}

/** One retrain tick (what a schedule calls); prints its report. A rejected tick exits 1 with the reason. */
async function retrainCommand(opts: RetrainOpts): Promise<void> {
  await withConnection(opts, async (client) => {
    const json = definedFields({
      steps: opts.steps,
      epochs: opts.epochs,
      maxSeconds: opts.seconds,
    });
    const res = await ensureOk(
      await client.runs[':id'].retrain.$post({ param: { id: opts.run }, json, header: opts.idempotencyKey ? { 'idempotency-key': opts.idempotencyKey } : {} }),
    );
    const r = (await res.json()) as RetrainReport;
    const replayed = res.headers.get('idempotent-replayed') === 'true';
    if (opts.json) {
      process.stdout.write(JSON.stringify({ ...r, replayed }) + '\n');
      return;
    }
    const added = r.corpus.addedChars.length ? `, vocabulary +${r.corpus.addedChars.length}` : '';
    process.stdout.write(
      `${r.outcome}${replayed ? ' (repeat: first result)' : ''}: run ${r.runId} step ${r.step}, ${r.steps} steps, ` +
        `val ${fmt(r.beforeValLoss)} -> ${fmt(r.afterValLoss)}${added}; ${r.reason} [report ${r.id}]\n`,
    );
  });
}

// ---- sample ----

interface SampleOpts {
  run: string;
  length?: number;
  temperature?: number;
  topK?: number;
  topP?: number;
  prime?: string;
  seed?: number;
  checkpoint?: 'latest' | 'best' | number;
  store?: string;
  api?: string;
}

async function sample(opts: SampleOpts): Promise<void> {
  await withConnection(opts, async (client) => {
    const abort = new AbortController();
    const onSigint = () => abort.abort();
    process.once('SIGINT', onSigint);
    try {
      const json = definedFields({
        length: opts.length,
        temperature: opts.temperature,
        topK: opts.topK,
        topP: opts.topP,
        prime: opts.prime,
        seed: opts.seed,
        checkpoint: opts.checkpoint,
      });
      const res = await ensureOk(await client.runs[':id'].sample.$post({ param: { id: opts.run }, json }, sseInit(abort.signal)));
      if (opts.prime) process.stdout.write(opts.prime);
      let ended = false;
      for await (const ev of readSse(res)) {
        if (ev.event === 'message') process.stdout.write((JSON.parse(ev.data) as { text: string }).text);
        else if (ev.event === 'done') ended = true;
        else if (ev.event === 'error') throw new CliError((JSON.parse(ev.data) as { error: { message: string } }).error.message);
      }
      process.stdout.write('\n');
      if (!ended && !abort.signal.aborted) throw new CliError('the server closed the sample stream early');
    } catch (e) {
      if (abort.signal.aborted) return;
      throw e;
    } finally {
      process.off('SIGINT', onSigint);
    }
  });
}

// ---- export ----

interface ExportOpts {
  run: string;
  checkpoint?: 'latest' | 'best' | number;
  out: string;
  store?: string;
  api?: string;
}

/** The run's checkpoint as a static page (GET /runs/:id/export, unzipped into --out). */
async function exportCommand(opts: ExportOpts): Promise<void> {
  await withConnection(opts, async (client) => {
    const query = opts.checkpoint !== undefined ? { checkpoint: String(opts.checkpoint) } : {};
    const res = await ensureOk(await client.runs[':id'].export.$get({ param: { id: opts.run }, query }));
    const files = unzipSync(new Uint8Array(await res.arrayBuffer()));
    // The names come from a server, maybe a remote one: plain file names only, nothing that climbs out.
    const bad = Object.keys(files).find((name) => !/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name));
    if (bad !== undefined) throw new CliError(`the server's export holds a file named ${JSON.stringify(bad)}: nothing written`);
    await mkdir(opts.out, { recursive: true });
    for (const [name, bytes] of Object.entries(files)) await writeFile(path.join(opts.out, name), bytes);
    const step = /-(\d+)\.zip"/.exec(res.headers.get('content-disposition') ?? '')?.[1] ?? '?';
    process.stdout.write(`exported run ${opts.run} at step ${step} to ${opts.out}: open ${path.join(opts.out, SITE_FILES.html)} in any browser\n`);
  });
}

// ---- runs ----

async function runs(opts: { store?: string; json?: boolean; api?: string }): Promise<void> {
  await withConnection(opts, async (client) => {
    const res = await ensureOk(await client.runs.$get());
    const { runs } = (await res.json()) as { runs: Run[] };
    if (opts.json) {
      process.stdout.write(JSON.stringify({ runs }) + '\n');
      return;
    }
    if (runs.length === 0) {
      process.stdout.write('no runs yet: charrnn train --corpus names --run demo --steps 200\n');
      return;
    }
    const rows = [
      ['ID', 'STATUS', 'STEP', 'EPOCH', 'VAL', 'BEST', 'MODEL', 'CORPUS'],
      ...runs.map((r) => [r.id, r.status, String(r.step), r.epoch.toFixed(2), fmt(r.latestValLoss), fmt(r.bestValLoss), `${r.model.layers}x${r.model.hidden} ${r.model.cell}`, r.corpusName]),
    ];
    const widths = rows[0].map((_, i) => Math.max(...rows.map((row) => row[i].length)));
    for (const row of rows) process.stdout.write(row.map((cell, i) => cell.padEnd(widths[i])).join('  ').trimEnd() + '\n');
  });
}

// ---- serve ----

async function serveCommand(opts: { port?: number; host?: string; store?: string }): Promise<void> {
  const { startServer } = await import('./server.ts');
  const port = opts.port ?? (process.env.PORT ? positiveIntOrZero(process.env.PORT) : 8080);
  const settings = readSettings();
  const server = await startServer({ port, host: opts.host ?? process.env.HOST ?? '127.0.0.1', settings, ...(opts.store ? { storeUrl: storeUrlArg(opts.store) } : {}) });
  console.error(`charrnn ${VERSION} listening on ${server.url} (auth ${settings.token ? 'on' : 'off'})`);
  await new Promise<void>((resolve) => {
    const stop = () => void server.close().then(resolve);
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
}

function positiveIntOrZero(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new CliError(`PORT must be a port number, got "${v}"`);
  return n;
}

// ---- program ----

export function buildProgram(): Command {
  const program = new Command('charrnn')
    .description('Character-level LSTM text generation: train, sample, list runs, serve the API.')
    .version(VERSION)
    .configureOutput({ outputError: (str, write) => write(str.split('\n')[0] + '\n') });

  const storeOpt = () => new Option('--store <url>', 'store: a directory, file:///path or s3://bucket/prefix (default CHARRNN_STORE or ./.charrnn)');
  const apiOpt = () => new Option('--api <url>', 'talk to a running server instead (default CHARRNN_API_URL)').argParser(url);

  program
    .command('train')
    .description('train a run (created if new, continued from its latest checkpoint otherwise)')
    .requiredOption('--corpus <name|path>', `built-in corpus (${BUILTIN_CORPORA.join(', ')}) or a .txt file`)
    .option('--run <name>', 'run name (default: derived from the corpus)')
    .addOption(new Option('--steps <n>', 'steps to train').argParser(positiveInt).conflicts(['epochs', 'seconds']))
    .addOption(new Option('--epochs <n>', 'epochs to train').argParser(positiveNumber).conflicts(['steps', 'seconds']))
    .addOption(new Option('--seconds <n>', 'wall-time budget').argParser(positiveNumber).conflicts(['steps', 'epochs']))
    .addOption(new Option('--preset <size>', `model size for new runs (default auto: chosen from the corpus and --seconds): ${describePresets()}`).choices(PRESETS))
    .option('--layers <n>', 'LSTM layers (new runs)', positiveInt)
    .option('--hidden <n>', 'hidden size (new runs)', positiveInt)
    .option('--seq <n>', 'characters per BPTT window (new runs)', positiveInt)
    .option('--batch <n>', 'parallel streams per step (new runs)', positiveInt)
    .option('--lr <x>', 'learning rate (new runs)', numberIn(0, 1, true))
    .option('--dropout <p>', 'dropout between layers (new runs)', numberIn(0, 0.9))
    .option('--seed <n>', 'random seed (new runs)', nonNegativeInt)
    .addOption(storeOpt())
    .option('--json', 'one JSON object per progress line')
    .addOption(apiOpt())
    .action((opts: TrainOpts) => train(opts));

  program
    .command('sample')
    .description('stream generated text from a run to stdout')
    .requiredOption('--run <name>', 'run to sample from')
    .option('--length <n>', 'characters to generate (default 200)', positiveInt)
    .option('--temperature <t>', '0 = argmax, 1 = as learned (default 1)', numberIn(0, 100))
    .option('--top-k <k>', 'keep the k likeliest characters (0 = off)', nonNegativeInt)
    .option('--top-p <p>', 'nucleus sampling mass (1 = off)', numberIn(0, 1, true))
    .option('--prime <text>', 'text to start from')
    .option('--seed <n>', 'random seed (same seed, same text)', nonNegativeInt)
    .option('--checkpoint <ref>', 'latest, best or a step number (default latest)', checkpointRef)
    .addOption(storeOpt())
    .addOption(apiOpt())
    .action((opts: SampleOpts) => sample({ ...opts, run: runIdArg(opts.run) }));

  program
    .command('retrain')
    .description('one scheduled retrain tick: train from best on the current corpus, promote if validation improves')
    .requiredOption('--run <id>', 'run to retrain')
    .addOption(new Option('--steps <n>', 'steps to train').argParser(positiveInt).conflicts(['epochs', 'seconds']))
    .addOption(new Option('--epochs <n>', 'epochs to train').argParser(positiveNumber).conflicts(['steps', 'seconds']))
    .addOption(new Option('--seconds <n>', 'wall-time budget').argParser(positiveNumber).conflicts(['steps', 'epochs']))
    .option('--idempotency-key <key>', 'repeats with the same key return the first result without training')
    .option('--json', 'print the report as one JSON object')
    .addOption(storeOpt())
    .addOption(apiOpt())
    .action((opts: RetrainOpts) => retrainCommand({ ...opts, run: runIdArg(opts.run) }));

  program
    .command('export')
    .description('write a static web page that generates text from a checkpoint in any browser (no server)')
    .requiredOption('--run <name>', 'run to export')
    .option('--checkpoint <ref>', 'latest, best or a step number (default latest)', checkpointRef)
    .requiredOption('--out <dir>', 'directory to write index.html and its files into (created if missing)')
    .addOption(storeOpt())
    .addOption(apiOpt())
    .action((opts: ExportOpts) => exportCommand({ ...opts, run: runIdArg(opts.run) }));

  program
    .command('runs')
    .description('list runs')
    .addOption(storeOpt())
    .option('--json', 'print {"runs": [...]} as JSON')
    .addOption(apiOpt())
    .action((opts: { store?: string; json?: boolean; api?: string }) => runs(opts));

  program
    .command('serve')
    .description('serve the HTTP API (PORT, CHARRNN_API_TOKEN and CHARRNN_* limits from the environment)')
    .option('--port <n>', 'port (default PORT or 8080; 0 = any free port)', (v: string) => positiveIntOrZero(v))
    .option('--host <addr>', 'address to bind (default HOST or 127.0.0.1)')
    .addOption(storeOpt())
    .action((opts: { port?: number; host?: string; store?: string }) => serveCommand(opts));

  return program;
}

export async function runCli(argv: string[]): Promise<number> {
  try {
    await buildProgram().parseAsync(argv);
    return 0;
  } catch (e) {
    const msg = e instanceof ApiRequestError || e instanceof CliError ? e.message : e instanceof Error ? describeError(e) : String(e);
    process.stderr.write(`charrnn: ${msg.split('\n')[0]}\n`);
    return 1;
  }
}

function describeError(e: Error): string {
  const cause = (e as { cause?: { code?: string; message?: string } }).cause;
  if (e.name === 'TypeError' && e.message === 'fetch failed') return `cannot reach the API: ${cause?.code ?? cause?.message ?? 'connection failed'}`;
  if (e.name === 'StoreConfigError') return e.message;
  return e.message;
}

const invokedDirectly = !!process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href;
// Exit as soon as the command is done: the client's keep-alive socket would otherwise hold the
// process ~150 ms longer (measured on `charrnn runs`), tfjs and idle threads longer still.
if (invokedDirectly) process.exit(await runCli(process.argv));

// charrnn's GPU smoke: on a machine with one NVIDIA GPU, the checks no machine of this project can
// run (none has a GPU or can install libtensorflow), as one table; exit 1 if any row fails. Started
// by infra/gpu-smoke.sh (see infra/README.md): from a checkout through tsx, in the image as the
// bundle dist/gpu-smoke.mjs. With --backend wasm every row but the GPU's runs on wasm, which is how
// CI runs this code (test/infra/gpu-smoke.test.ts).
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { initBackend } from '../../shared/engine/backend.ts';
import {
  BACKENDS,
  CHECK_IDS,
  CHECKS,
  DEFAULT_MAX_HEALTHZ_GAP_MS,
  firstLine,
  formatTable,
  summaryLine,
  type Backend,
  type CheckId,
  type Outcome,
  type Row,
} from './checks.ts';
import { checkBackend, checkGather, checkLstmGradient, checkMatMul, checkSegmentSum } from './kernels.ts';
import { checkCudaLibraries, checkGpu } from './native.ts';
import { serverChecks } from './server.ts';
import { printReferenceLosses, TrainingChecks } from './training.ts';

const USAGE = `usage: infra/gpu-smoke.sh [--backend tensorflow|wasm] [--dist DIR] [--json] [--only CHECK,...] [--max-healthz-gap-ms N]
  --backend             tensorflow (default): the GPU path; wasm: every row but the GPU's, on wasm
  --dist DIR            test the bundle in DIR (the image's /app/dist) instead of this checkout's sources
  --json                one JSON object instead of the table
  --only CHECK,...      run only these rows: ${CHECK_IDS.join(', ')}
  --max-healthz-gap-ms  the longest /healthz gap allowed (default ${DEFAULT_MAX_HEALTHZ_GAP_MS})`;

interface Options {
  backend: Backend;
  dist?: string;
  json: boolean;
  only: Set<CheckId>;
  maxHealthzGapMs: number;
  referenceLosses?: number;
}

class UsageError extends Error {}

function parse(argv: string[]): Options | 'help' {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        backend: { type: 'string', default: 'tensorflow' },
        dist: { type: 'string' },
        json: { type: 'boolean', default: false },
        only: { type: 'string' },
        'max-healthz-gap-ms': { type: 'string' },
        // Internal: the wasm reference of the `train` row, run as a child process.
        'reference-losses': { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }));
  } catch (e) {
    throw new UsageError(firstLine(e));
  }
  if (values.help) return 'help';
  const backend = values.backend as Backend;
  if (!BACKENDS.includes(backend)) throw new UsageError(`--backend must be ${BACKENDS.join(' or ')}, got "${values.backend}"`);
  const positive = (flag: string, v: string | undefined, dflt?: number) => {
    if (v === undefined) return dflt;
    const n = Number(v);
    if (!(Number.isFinite(n) && n > 0)) throw new UsageError(`--${flag} must be a positive number, got "${v}"`);
    return n;
  };
  const only = values.only === undefined ? CHECK_IDS : values.only.split(',').map((s) => s.trim());
  for (const id of only) if (!CHECK_IDS.includes(id as CheckId)) throw new UsageError(`--only: unknown check "${id}" (checks: ${CHECK_IDS.join(', ')})`);
  return {
    backend,
    dist: values.dist === undefined ? undefined : resolve(values.dist),
    json: values.json,
    only: new Set(only as CheckId[]),
    maxHealthzGapMs: positive('max-healthz-gap-ms', values['max-healthz-gap-ms'], DEFAULT_MAX_HEALTHZ_GAP_MS)!,
    referenceLosses: positive('reference-losses', values['reference-losses']),
  };
}

async function runChecks(o: Options): Promise<Row[]> {
  // This program again, for the wasm reference: node's flags (--import tsx from a checkout) and script.
  const self = [...process.execArgv, process.argv[1]];
  // The checkout, or the directory holding the bundle (the image's WORKDIR).
  const root = o.dist ? dirname(o.dist) : fileURLToPath(new URL('../..', import.meta.url));
  // This process and the server it starts share the GPU: TensorFlow would otherwise map almost all
  // of its memory into the first one (the image sets the same; a checkout may not).
  if (o.backend === 'tensorflow') process.env.TF_FORCE_GPU_ALLOW_GROWTH ??= 'true';
  const training = new TrainingChecks(o.backend, self);
  let server: ReturnType<typeof serverChecks> | null = null;
  const servers = () => (server ??= serverChecks({ backend: o.backend, dist: o.dist, root, maxHealthzGapMs: o.maxHealthzGapMs }));
  // Kernel rows compare against the backend asked for, so it must be the active one.
  const onBackend = (check: () => Promise<Outcome>) => async () => {
    const active = await initBackend(o.backend);
    if (active !== o.backend) throw new Error(`the active backend is ${active}, not ${o.backend}`);
    return check();
  };
  const run: Record<CheckId, () => Promise<Outcome>> = {
    gpu: checkGpu,
    'cuda-libs': checkCudaLibraries,
    backend: () => checkBackend(o.backend),
    matmul: onBackend(checkMatMul),
    gather: onBackend(checkGather),
    'segment-sum': onBackend(checkSegmentSum),
    'lstm-grad': onBackend(checkLstmGradient),
    train: onBackend(() => training.train()),
    resume: onBackend(() => training.resume()),
    server: async () => (await servers()).server,
    'healthz-gap': async () => (await servers())['healthz-gap'],
    sigterm: async () => (await servers()).sigterm,
  };
  const rows: Row[] = [];
  try {
    for (const [i, c] of CHECKS.entries()) {
      const t0 = performance.now();
      let outcome: Outcome;
      if (!o.only.has(c.id)) outcome = { result: 'skip (not selected)', detail: '' };
      else if (c.gpuOnly && o.backend === 'wasm') outcome = { result: 'skip (wasm)', detail: 'no GPU in use on the wasm backend' };
      else {
        try {
          outcome = await run[c.id]();
        } catch (e) {
          outcome = { result: 'FAIL', detail: firstLine(e) };
        }
      }
      const seconds = (performance.now() - t0) / 1000;
      rows.push({ id: c.id, check: c.label, ...outcome, seconds });
      if (!o.json) process.stderr.write(`[${i + 1}/${CHECKS.length}] ${c.label}: ${outcome.result} (${seconds.toFixed(1)} s)\n`);
    }
  } finally {
    training.dispose();
  }
  return rows;
}

async function main(): Promise<number> {
  let o: Options | 'help';
  try {
    o = parse(process.argv.slice(2));
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    process.stderr.write(`gpu-smoke: ${e.message}\n${USAGE}\n`);
    return 2;
  }
  if (o === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (o.referenceLosses !== undefined) {
    await printReferenceLosses(o.backend, o.referenceLosses);
    return 0;
  }
  const t0 = performance.now();
  const rows = await runChecks(o);
  const seconds = (performance.now() - t0) / 1000;
  const ok = rows.every((r) => r.result !== 'FAIL');
  const mode = o.dist ? `bundle ${o.dist}` : 'checkout sources';
  const out = o.json
    ? JSON.stringify({ ok, backend: o.backend, mode, node: process.version, seconds, rows })
    : `charrnn gpu-smoke: backend ${o.backend}, ${mode}, node ${process.version}\n\n${formatTable(rows)}\n\n${summaryLine(rows, seconds)}`;
  await new Promise<void>((r) => process.stdout.write(`${out}\n`, () => r()));
  return ok ? 0 : 1;
}

// Exit explicitly: native backends can hold the event loop open after the last check.
main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`gpu-smoke: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exit(1);
  },
);

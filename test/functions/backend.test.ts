// The server's tfjs backend: the container entry and `charrnn serve` refuse to start when the
// backend they are told to use cannot load (exit 1, the loaders' own error text); a lazy server
// (the CLI's embedded one) answers /healthz 503 until its first train or sample loads tfjs, and a
// failed load is a 503 naming the cause, retried on the next request.
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type RunningServer } from '../../functions/server.ts';
import { readSettings } from '../../functions/settings.ts';
import type { EngineSettings } from '../../shared/engine/settings.ts';
import { nativeAddonMissing } from '../../shared/engine/native-packages.ts';
import { blasInUse, json, useTempStore, TINY } from './helpers.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const GPU = '@tensorflow/tfjs-node-gpu';
const NODE = '@tensorflow/tfjs-node';

/** The resolver's or our own reason a tfjs-node package cannot load here (none can: no libtensorflow). */
const missing = (pkg: string) => nativeAddonMissing(pkg) ?? '';

/** Runs a command to its exit (it must not start listening). */
async function exitOf(args: string[], env: Record<string, string>): Promise<{ code: number; stderr: string }> {
  const full: NodeJS.ProcessEnv = { ...process.env, PORT: '0', HOST: '127.0.0.1', ...env };
  delete full.NODE_OPTIONS;
  delete full.CHARRNN_API_TOKEN;
  return promisify(execFile)(process.execPath, args, { cwd: ROOT, env: full, timeout: 60_000 }).then(
    (r) => ({ code: 0, stderr: r.stderr }),
    (e: { code?: number; stderr?: string }) => ({ code: e.code ?? -1, stderr: e.stderr ?? '' }),
  );
}

const store = useTempStore();

describe('a lazy server (first use)', () => {
  let server: RunningServer;
  const logged: string[] = [];
  // The server keeps the settings it was given; changing them between requests stands in for
  // whatever made the first load fail.
  const engine: EngineSettings = {};
  beforeAll(async () => {
    server = await startServer({ settings: { ...readSettings({}), engine }, storeUrl: store.url, token: '', backendInit: 'first-use', log: (m) => logged.push(m) });
  });
  afterAll(async () => {
    await server?.close(1000);
  });
  const get = (p: string) => fetch(`${server.url}${p}`);

  it('answers /healthz 503 and lists runs without loading tfjs', async () => {
    const health = await get('/healthz');
    expect(health.status).toBe(503);
    expect(await health.json()).toEqual({ ok: false, ready: false, version: expect.stringMatching(/^\d+\.\d+\.\d+/) });
    expect((await get('/runs')).status).toBe(200);
    expect((await fetch(`${server.url}/runs`, json({ corpus: 'names', id: 'lazy', config: TINY }))).status).toBe(201);
    // tfjs-core creates its engine on this global when it loads (this file runs in its own process,
    // and nothing before this point imports the engine's tfjs half).
    expect((globalThis as { _tfengine?: unknown })._tfengine).toBeUndefined();
  });

  it('a failed load answers 503 with the loaders\' text, /healthz says why, and the next request tries again', async () => {
    engine.backend = 'tensorflow';
    const res = await fetch(`${server.url}/runs/lazy/train`, json({ steps: 2 }));
    expect(res.status).toBe(503);
    const { error } = await res.json();
    expect(error.code).toBe('backend_unavailable');
    expect(error.message).toContain(`${GPU}: ${missing(GPU)}`);
    const health = await (await get('/healthz')).json();
    expect(health).toMatchObject({ ok: false, ready: false, error: expect.stringContaining('backend "tensorflow" is unavailable') });

    delete engine.backend;
    const trained = await fetch(`${server.url}/runs/lazy/train`, json({ steps: 2 }));
    expect(trained.status, await trained.clone().text()).toBe(200);
    expect(await trained.json()).toMatchObject({ steps: 2, backend: 'wasm' });
    const ready = await get('/healthz');
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({
      ok: true, ready: true, backend: 'wasm', device: 'cpu', blas: blasInUse(), version: expect.any(String),
    });
    const sampled = await fetch(`${server.url}/runs/lazy/sample`, json({ length: 12, seed: 1 }));
    expect(sampled.status).toBe(200);
    expect([...(await sampled.json()).text].length).toBe(12);
  });

  it('a first request that samples (in threads, started before this thread\'s tfjs) also makes /healthz ready', async () => {
    const other = await startServer({ storeUrl: store.url, token: '', backendInit: 'first-use', log: () => {} });
    try {
      expect((await fetch(`${other.url}/healthz`)).status).toBe(503);
      const sampled = await fetch(`${other.url}/runs/lazy/sample`, json({ length: 12, seed: 1 }));
      expect(sampled.status).toBe(200);
      expect(other.app.services.backend.earlyPlan()).toMatchObject({ training: 'worker', sampleThreads: 2 });
      // Nothing here asks for the backend: the sample itself started loading it.
      const until = Date.now() + 20_000;
      let status = 503;
      while (status !== 200 && Date.now() < until) {
        status = (await fetch(`${other.url}/healthz`)).status;
        if (status !== 200) await new Promise((r) => setTimeout(r, 100));
      }
      expect(status).toBe(200);
    } finally {
      await other.close(1000);
    }
  });
});

describe('a backend that cannot be honoured stops startup', () => {
  const main = ['--import', 'tsx', 'functions/main.ts'];

  it('CHARRNN_REQUIRE_GPU=1 without tfjs-node-gpu: the container entry exits 1 with the loader\'s error', async () => {
    const r = await exitOf(main, { CHARRNN_STORE: store.url, CHARRNN_REQUIRE_GPU: '1' });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`[charrnn] tfjs backend unavailable: CHARRNN_REQUIRE_GPU=1, but ${GPU} did not load (${GPU}: ${missing(GPU)})`);
    expect(r.stderr).not.toContain('listening on');
  });

  it('CHARRNN_BACKEND=tensorflow without TensorFlow: the entry and `charrnn serve` exit 1 naming each package\'s error', async () => {
    const [entry, serve] = await Promise.all([
      exitOf(main, { CHARRNN_STORE: store.url, CHARRNN_BACKEND: 'tensorflow' }),
      exitOf(['functions/bin/charrnn.js', 'serve', '--port', '0', '--store', store.dir], { CHARRNN_BACKEND: 'tensorflow' }),
    ]);
    const why = `backend "tensorflow" is unavailable (${GPU}: ${missing(GPU)}; ${NODE}: ${missing(NODE)})`;
    expect(entry.code).toBe(1);
    expect(entry.stderr).toContain(`[charrnn] tfjs backend unavailable: ${why}`);
    expect(serve.code).toBe(1);
    expect(serve.stderr).toContain(`charrnn: tfjs backend unavailable: ${why}`);
    expect(serve.stderr).not.toContain('listening on');
  });
});

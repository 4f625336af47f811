// The functions over a real socket (@hono/node-server). Used by main.ts (the container), by
// `charrnn serve`, by the CLI's embedded mode and by tests (port 0 = any free port).
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { describeBackend } from '../shared/engine/tf-free.ts';
import { openRunStore, type RunStore } from '../shared/store/index.ts';
import { createApp, type App } from './app.ts';
import { ServerBackend } from './backend.ts';
import { readSettings, type Limits, type Settings } from './settings.ts';

/** Idle keep-alive sockets: longer than any client's or load balancer's idle timeout (AWS ALB: 60 s). */
const KEEP_ALIVE_MS = 65_000;

export interface ServerOptions {
  port?: number;
  host?: string;
  /**
   * What the environment says (readSettings, functions/settings.ts): limits, the engine's and the
   * store's settings, the token. Default: read now. The options below win over it.
   */
  settings?: Settings;
  /** CHARRNN_STORE-style URL (instead of settings.store.url); ignored when `store` is given. */
  storeUrl?: string;
  store?: RunStore;
  /** Bearer token; default settings.token (CHARRNN_API_TOKEN). Pass '' to run open. */
  token?: string;
  limits?: Limits;
  log?: (msg: string) => void;
  /**
   * When tfjs is initialised: 'startup' (default: at once, while /healthz already answers 503;
   * startServer resolves when it is ready and rejects with the loaders' error text, socket closed,
   * when it cannot be), 'background' (the same without waiting: a failure only shows in /healthz)
   * or 'first-use' (the first train or sample request: what the CLI's embedded server does).
   */
  backendInit?: 'startup' | 'background' | 'first-use';
}

export interface RunningServer {
  url: string;
  port: number;
  app: App;
  /** Stop accepting, stop training slices (they checkpoint and release leases), close the socket. */
  close(graceMs?: number): Promise<void>;
}

export async function startServer(opts: ServerOptions = {}): Promise<RunningServer> {
  const settings = opts.settings ?? readSettings();
  const store = opts.store ?? openRunStore({ ...settings.store, ...(opts.storeUrl !== undefined ? { url: opts.storeUrl } : {}) });
  const limits = opts.limits ?? settings.limits;
  const log = opts.log ?? ((msg: string) => console.error(`[charrnn] ${msg}`));
  const backend = new ServerBackend({ engine: settings.engine, ...(limits.sampleThreads !== undefined ? { sampleThreads: limits.sampleThreads } : {}), log });
  const init = opts.backendInit ?? 'startup';
  const app = createApp({
    store,
    limits,
    token: opts.token ?? settings.token,
    backend,
    log,
  });
  // An eager server also starts its sampling threads (each loads its own tfjs), so the first sample finds them warm.
  // (A backend failure is reported below at startup; in the background only this says it.)
  if (init !== 'first-use') app.services.samplers.warm().catch((e: unknown) => init === 'background' && log(e instanceof Error ? e.message : String(e)));
  const loading = init === 'startup' ? backend.ready() : null;
  loading?.catch(() => {}); // observed below, once listening
  const host = opts.host ?? '127.0.0.1';
  const server = serve({ fetch: app.fetch, port: opts.port ?? 0, hostname: host });
  // Idle keep-alive sockets outlive the client's: a client (undici: 4 s; a load balancer: 60 s)
  // must be the side that closes them. With Node's 5 s default the two close at the same moment
  // and a reused socket fails ("other side closed"; seen in bad-input.test.ts under load).
  Object.assign(server, { keepAliveTimeout: KEEP_ALIVE_MS, headersTimeout: KEEP_ALIVE_MS + 1000 });
  await new Promise<void>((resolve, reject) => {
    if (server.listening) return resolve();
    server.once('listening', resolve);
    server.once('error', reject);
  });
  if (loading) {
    // Listening already, so a startup probe sees 503 (not a refused connection) while libtensorflow
    // and CUDA load, which can take minutes on a GPU that JIT-compiles PTX.
    const { info, skipped } = await loading.catch(async (e: unknown) => {
      app.services.samplers.clear(); // threads already started must not keep a failed process alive
      await new Promise<void>((r) => server.close(() => r()));
      throw e;
    });
    log(`tfjs backend: ${describeBackend(info, skipped)}`);
  }
  const port = (server.address() as AddressInfo).port;
  const urlHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
  let closing: Promise<void> | null = null;
  return {
    url: `http://${urlHost}:${port}`,
    port,
    app,
    close(graceMs = limits.shutdownGraceSeconds * 1000) {
      closing ??= (async () => {
        const http = server as unknown as { closeAllConnections(): void; closeIdleConnections(): void };
        const closed = new Promise<void>((r) => server.close(() => r()));
        const within = (p: Promise<unknown>, ms: number) => Promise.race([p, new Promise((r) => setTimeout(r, ms).unref())]);
        app.services.closing.abort(); // metrics tails and samples end their streams
        await app.services.trainings.shutdown(graceMs);
        // Train streams send their final `done`; responses then end and their sockets drain.
        await within(Promise.allSettled([...app.services.trainResponses]), 1000);
        http.closeIdleConnections();
        await within(closed, 1000);
        http.closeAllConnections(); // whatever is still open after that
        await closed;
        app.services.samplers.clear();
      })();
      return closing;
    },
  };
}

// Test support for the TUI: a real in-process functions server on a temp file store, the app
// rendered with ink-testing-library, and helpers to type keys and wait for frames.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { stripVTControlCharacters } from 'node:util';
import { render } from 'ink-testing-library';
import { afterAll, beforeAll, onTestFinished } from 'vitest';
import { Api, type Run } from '../../tui/api.ts';
import { App, type AppProps } from '../../tui/app.tsx';
import type { Route } from '../../tui/context.ts';

export interface TestApi {
  url: string;
  api: Api;
  dir: string;
  /** What a first train or sample does on a lazily started server: load its tfjs backend. */
  loadBackend(): Promise<unknown>;
  close(): Promise<void>;
}

export async function startTestApi(opts: { token?: string; backendInit?: 'startup' | 'first-use' } = {}): Promise<TestApi> {
  const dir = await mkdtemp(join(tmpdir(), 'charrnn-tui-test-'));
  const { startServer } = await import('../../functions/server.ts');
  const server = await startServer({
    port: 0,
    host: '127.0.0.1',
    storeUrl: pathToFileURL(join(dir, 'store')).href,
    token: opts.token ?? '',
    ...(opts.backendInit ? { backendInit: opts.backendInit } : {}),
    log: (msg) => { if (process.env.CHARRNN_TEST_LOG) console.error('[server]', msg); },
  });
  return {
    url: server.url,
    api: new Api(server.url),
    dir,
    loadBackend: () => server.app.services.backend.ready(),
    async close() {
      await server.close(5000);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** A fast model: the tiny preset on the names corpus with short windows. */
export function createTinyRun(api: Api, id: string): Promise<Run> {
  return api.createRun({ id, corpus: 'names', config: { preset: 'tiny', seqLen: 16, batchSize: 8 } });
}

export const KEY = {
  enter: '\r',
  esc: '\u001B',
  tab: '\t',
  shiftTab: '\u001B[Z',
  up: '\u001B[A',
  down: '\u001B[B',
  right: '\u001B[C',
  left: '\u001B[D',
  pageUp: '\u001B[5~',
  pageDown: '\u001B[6~',
  backspace: '\u007F',
  ctrlC: '\u0003',
};

export type Rendered = ReturnType<typeof render> & { quits: number; frame: () => string };

export function renderApp(api: Api, props: Partial<AppProps> & { initialRoute?: Route } = {}): Rendered {
  const state = { quits: 0 };
  const inst = render(
    <App api={api} apiLabel="test" sliceSeconds={2} {...props} onQuit={() => (state.quits += 1)} />,
  );
  const rendered = Object.assign(inst, { frame: () => stripVTControlCharacters(inst.lastFrame() ?? '') });
  Object.defineProperty(rendered, 'quits', { get: () => state.quits });
  onTestFinished(() => inst.unmount()); // unmounting twice is harmless
  return rendered as Rendered;
}

/**
 * One in-process API for a test file: started before its tests (then `setup`, e.g. a trained run),
 * closed after them. The returned object is filled in when the server is up.
 */
export function useTestApi(setup?: (t: TestApi) => Promise<void>): TestApi {
  const t = {} as TestApi;
  beforeAll(async () => {
    Object.assign(t, await startTestApi());
    await setup?.(t);
  });
  afterAll(async () => {
    await t.close?.();
  });
  return t;
}

/** Focus the form field whose label starts the line, tabbing through the form. */
export async function focusField(app: Rendered, label: string, tries = 30): Promise<void> {
  for (let i = 0; i < tries; i++) {
    if (lineWith(app.frame(), label).startsWith('› ')) return;
    await press(app, KEY.tab);
  }
  throw new Error(`never focused ${label}:\n${app.frame()}`);
}

/** Wait until the latest frame satisfies `test`; fail with that frame in the message. */
export async function waitForFrame(app: Rendered, test: (frame: string) => boolean, timeoutMs = 20_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const frame = app.frame();
    if (test(frame)) {
      // A frame is written at commit; the new key handlers attach in effects just after.
      await sleep(30);
      return frame;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs}ms waiting for a frame; last frame:\n${frame}`);
    await sleep(25);
  }
}

export const waitForText = (app: Rendered, text: string | RegExp, timeoutMs?: number) =>
  waitForFrame(app, (f) => (typeof text === 'string' ? f.includes(text) : text.test(f)), timeoutMs);

/** Type keys one at a time, giving Ink a moment to handle each (as a person would). */
export async function press(app: Rendered, ...keys: string[]): Promise<void> {
  for (const k of keys) {
    // Let effects settle first: a component that just mounted (a text field) listens from then on.
    await sleep(30);
    app.stdin.write(k);
    await sleep(30);
  }
}

/** A local port nothing listens on. */
export async function closedPort(): Promise<number> {
  const { createServer } = await import('node:net');
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  await new Promise((r) => srv.close(r));
  return port;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The line of the frame that contains `text`. */
export function lineWith(frame: string, text: string): string {
  return frame.split('\n').find((l) => l.includes(text)) ?? '';
}

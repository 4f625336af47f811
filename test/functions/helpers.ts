// Shared setup for the functions tests: a temp file store, a tiny model config, SSE helpers.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll } from 'vitest';
import { readSse, type SseEvent } from '../../functions/client.ts';
import { blasStatus } from '../../shared/engine/native/blas.ts';

/** Small enough that a step takes milliseconds on two cores. */
export const TINY = { preset: 'tiny', hidden: 32, seqLen: 16, batchSize: 8, evalEvery: 10, evalChars: 2000 } as const;

export async function tempStore(): Promise<{ url: string; dir: string; cleanup(): Promise<void> }> {
  const dir = await mkdtemp(path.join(tmpdir(), 'charrnn-fn-'));
  return { url: pathToFileURL(dir).href, dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** A temp file store for the calling file's tests: created before them, removed after (read `url`/`dir` inside tests). */
export function useTempStore(): { readonly url: string; readonly dir: string } {
  let store: Awaited<ReturnType<typeof tempStore>> | undefined;
  beforeAll(async () => {
    store = await tempStore();
  });
  afterAll(async () => {
    await store?.cleanup();
  });
  return {
    get url() {
      return store!.url;
    },
    get dir() {
      return store!.dir;
    },
  };
}

export interface TimedEvent extends SseEvent {
  at: number;
}

/** Every event of an SSE response with its arrival time (ms since `start`). */
export async function collectSse(res: Response, start = performance.now()): Promise<TimedEvent[]> {
  const out: TimedEvent[] = [];
  for await (const ev of readSse(res)) out.push({ ...ev, at: performance.now() - start });
  return out;
}

export const json = (body: unknown) => ({
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify(body),
});

export const sse = (body: unknown) => ({
  method: 'POST',
  headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
  body: JSON.stringify(body),
});

/** The binding as a wasm server in this environment reports it (/healthz, progress events). */
export function blasInUse(): { on: boolean; kernels: string | null } {
  const { on, kernels } = blasStatus();
  return { on, kernels };
}

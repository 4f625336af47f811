// The typed HTTP client the CLI and the TUI use: Hono RPC over AppType (types only: importing this
// never loads tfjs or the server), readSse() for the streaming endpoints, and one way to turn any
// failure into an ApiRequestError (ensureOk, networkError, errorFromEvent, sseEvents).
import { hc } from 'hono/client';
import { EventSourceParserStream } from 'eventsource-parser/stream';
import type { z } from 'zod';
import type { CorpusUploaded as CorpusUploadedSchema } from '../shared/api/schemas.ts';
import type { AppType } from './app.ts';

export type CorpusUploaded = z.infer<typeof CorpusUploadedSchema>;

export interface ClientOptions {
  token?: string;
  fetch?: typeof fetch;
  headers?: Record<string, string>;
}

export function createClient(baseUrl: string, opts: ClientOptions = {}) {
  const headers: Record<string, string> = { ...(opts.headers ?? {}) };
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  return hc<AppType>(baseUrl.replace(/\/+$/, ''), { headers, ...(opts.fetch ? { fetch: opts.fetch } : {}) });
}

export type Client = ReturnType<typeof createClient>;

/** Request options that ask for Server-Sent Events (and let the caller abort). */
export function sseInit(signal?: AbortSignal): { headers: Record<string, string>; init?: RequestInit } {
  return { headers: { accept: 'text/event-stream' }, ...(signal ? { init: { signal } } : {}) };
}

export interface SseEvent {
  /** The event name; 'message' when the server sent none. */
  event: string;
  data: string;
  id?: string;
}

/** The events of an SSE response, as they arrive. Ends with the stream. */
export async function* readSse(response: Response): AsyncGenerator<SseEvent> {
  if (!response.body) return;
  const events = response.body.pipeThrough(new TextDecoderStream()).pipeThrough(new EventSourceParserStream());
  const reader = events.getReader();
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      yield { event: value.event ?? 'message', data: value.data, ...(value.id !== undefined ? { id: value.id } : {}) };
    }
  } finally {
    await reader.cancel().catch(() => {});
  }
}

/** An API failure as an Error whose message is the server's one-line message. */
export class ApiRequestError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly field?: string,
  ) {
    super(message);
    this.name = 'ApiRequestError';
  }
}

/** Throws ApiRequestError unless the response is ok: the server's {error} when it sent one, else the first line of the body. */
export async function ensureOk<R extends Response>(response: R): Promise<R> {
  if (response.ok) return response;
  const text = await response.text().catch(() => '');
  try {
    const body = JSON.parse(text) as { error?: { code?: string; message?: string; field?: string } };
    if (body.error?.message) {
      throw new ApiRequestError(response.status, body.error.code ?? `http_${response.status}`, body.error.message, body.error.field);
    }
  } catch (e) {
    if (e instanceof ApiRequestError) throw e;
    // not JSON: fall through to the body's first line or the status line
  }
  const short = text.trim().split('\n')[0]?.slice(0, 200);
  throw new ApiRequestError(response.status, `http_${response.status}`, short || `HTTP ${response.status} ${response.statusText}`.trim());
}

/** A request the caller (or a timeout) cancelled. */
export function isAbort(err: unknown): boolean {
  return (
    (err instanceof Error && (err.name === 'AbortError' || err.name === 'TimeoutError')) ||
    (err instanceof ApiRequestError && err.code === 'aborted')
  );
}

/** No answer at all (refused, reset, DNS, aborted) as ApiRequestError status 0: 'aborted' or 'unreachable'. */
export function networkError(err: unknown, baseUrl: string): ApiRequestError {
  if (err instanceof ApiRequestError) return err;
  if (isAbort(err)) return new ApiRequestError(0, 'aborted', 'request aborted');
  const cause = (err as { cause?: { code?: string; message?: string } })?.cause;
  const detail = cause?.code ?? cause?.message ?? (err instanceof Error ? err.message : String(err));
  return new ApiRequestError(0, 'unreachable', `cannot reach ${baseUrl} (${detail})`);
}

/** An SSE `error` event's data ({error: {code, message, field?}}) as the ApiRequestError it reports. */
export function errorFromEvent(data: string): ApiRequestError {
  try {
    const body = JSON.parse(data) as { error?: { code?: string; message?: string; field?: string }; code?: string; message?: string };
    const e = body.error ?? body;
    return new ApiRequestError(500, e.code ?? 'stream_error', e.message ?? 'the server reported an error', (e as { field?: string }).field);
  } catch {
    return new ApiRequestError(500, 'stream_error', data || 'the server reported an error');
  }
}

/**
 * Send a request and read its SSE events, every failure as an ApiRequestError: no answer
 * (networkError), an error status (ensureOk), a dropped stream, or an `error` event.
 */
export async function* sseEvents(send: () => Promise<Response>, baseUrl: string): AsyncGenerator<SseEvent> {
  let res: Response;
  try {
    res = await send();
  } catch (err) {
    throw networkError(err, baseUrl);
  }
  await ensureOk(res);
  const it = readSse(res);
  for (;;) {
    let next: IteratorResult<SseEvent>;
    try {
      next = await it.next();
    } catch (err) {
      throw networkError(err, baseUrl);
    }
    if (next.done) return;
    if (next.value.event === 'error') throw errorFromEvent(next.value.data);
    yield next.value;
  }
}

/** Upload a corpus (POST /corpora): the bytes as they are, the server checks they are UTF-8. */
export async function uploadCorpus(client: Client, bytes: Uint8Array | string, baseUrl: string): Promise<CorpusUploaded> {
  let res: Response;
  try {
    res = await client.corpora.$post({}, { init: { body: bytes as BodyInit, headers: { 'content-type': 'text/plain; charset=utf-8' } } });
  } catch (err) {
    throw networkError(err, baseUrl);
  }
  return (await ensureOk(res)).json() as Promise<CorpusUploaded>;
}

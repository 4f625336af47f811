// The typed HTTP client the CLI and the TUI use: Hono RPC over AppType (types only: importing this
// never loads tfjs or the server), plus readSse() for the streaming endpoints and apiError() to turn
// a failed response into one line.
import { hc } from 'hono/client';
import { EventSourceParserStream } from 'eventsource-parser/stream';
import type { AppType } from './app.ts';

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

/** Throws ApiRequestError unless the response is ok. */
export async function ensureOk<R extends Response>(response: R): Promise<R> {
  if (response.ok) return response;
  let code = 'http_error';
  let message = `HTTP ${response.status} ${response.statusText}`.trim();
  let field: string | undefined;
  try {
    const body = (await response.json()) as { error?: { code?: string; message?: string; field?: string } };
    if (body.error?.message) message = body.error.message;
    if (body.error?.code) code = body.error.code;
    field = body.error?.field;
  } catch {
    // not JSON: keep the status line
  }
  throw new ApiRequestError(response.status, code, message, field);
}

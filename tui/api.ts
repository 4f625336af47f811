// The TUI's only door to the HTTP API: screens call these methods and never touch fetch.
// Every failure becomes an ApiRequestError (status, code, field) so errors.ts can phrase it.
import type { z } from 'zod';
import type {
  CreateRunBody,
  CorpusUploaded,
  Health,
  MetricPoint,
  Run,
  SampleBody,
  TrainBody,
  TrainProgress,
  TrainSummary,
} from '../shared/api/schemas.ts';
import { createParser } from 'eventsource-parser';

export type { Run, MetricPoint, TrainProgress, TrainSummary, CreateRunBody, SampleBody, TrainBody };
export type HealthInfo = z.infer<typeof Health>;
export type UploadedCorpus = z.infer<typeof CorpusUploaded>;

export type SampleEvent = { type: 'text'; text: string } | { type: 'done'; info: Record<string, unknown> };

export type TrainEvent = { type: 'progress'; data: TrainProgress } | { type: 'done'; data: TrainSummary };

/** A request that failed: an HTTP error answer, a broken stream, or no answer at all (status 0). */
export class ApiRequestError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly code: string,
    readonly field?: string,
  ) {
    super(message);
    this.name = 'ApiRequestError';
  }
}

export interface ApiOptions {
  token?: string;
}

type SseEvent = { event: string; data: string };

export class Api {
  readonly baseUrl: string;
  private readonly token?: string;

  constructor(baseUrl: string, opts: ApiOptions = {}) {
    this.baseUrl = baseUrl.replace(/\/+$/, '');
    this.token = opts.token;
  }

  health(): Promise<HealthInfo> {
    return this.json('GET', '/healthz');
  }

  async listRuns(): Promise<Run[]> {
    const body = await this.json<{ runs: Run[] }>('GET', '/runs');
    return body.runs;
  }

  getRun(id: string): Promise<Run> {
    return this.json('GET', `/runs/${encodeURIComponent(id)}`);
  }

  createRun(body: CreateRunBody): Promise<Run> {
    return this.json('POST', '/runs', { json: body });
  }

  async deleteRun(id: string): Promise<void> {
    await this.send('DELETE', `/runs/${encodeURIComponent(id)}`);
  }

  uploadCorpus(text: string): Promise<UploadedCorpus> {
    return this.json('POST', '/corpora', { text });
  }

  async metrics(id: string): Promise<MetricPoint[]> {
    const body = await this.json<{ points: MetricPoint[] }>('GET', `/runs/${encodeURIComponent(id)}/metrics`);
    return body.points;
  }

  /** Existing points, then each new one as the run's trainer writes it, until aborted. */
  async *followMetrics(id: string, signal?: AbortSignal, afterStep?: number): AsyncGenerator<MetricPoint> {
    const after = afterStep !== undefined ? `&afterStep=${afterStep}` : '';
    const res = await this.send('GET', `/runs/${encodeURIComponent(id)}/metrics?follow=1${after}`, { sse: true, signal });
    for await (const ev of this.events(res, signal)) {
      if (ev.event === 'point') yield JSON.parse(ev.data) as MetricPoint;
    }
  }

  /** One bounded training slice as a stream of progress events ending with its summary. */
  async *trainStream(id: string, body: TrainBody, signal?: AbortSignal): AsyncGenerator<TrainEvent> {
    const res = await this.send('POST', `/runs/${encodeURIComponent(id)}/train`, { json: body, sse: true, signal });
    for await (const ev of this.events(res, signal)) {
      if (ev.event === 'progress') yield { type: 'progress', data: JSON.parse(ev.data) as TrainProgress };
      else if (ev.event === 'done') {
        yield { type: 'done', data: JSON.parse(ev.data) as TrainSummary };
        return;
      }
    }
  }

  /** Generated characters as they arrive, then the `done` event's data (seed, step, … when the server sends them). */
  async *sampleStream(id: string, body: SampleBody, signal?: AbortSignal): AsyncGenerator<SampleEvent> {
    const res = await this.send('POST', `/runs/${encodeURIComponent(id)}/sample`, { json: body, sse: true, signal });
    for await (const ev of this.events(res, signal)) {
      if (ev.event === 'done') {
        yield { type: 'done', info: parseObject(ev.data) };
        return;
      }
      const data = parseObject(ev.data);
      if (typeof data.text === 'string') yield { type: 'text', text: data.text };
    }
  }

  // ---- plumbing ----

  private async json<T>(method: string, path: string, opts: { json?: unknown; text?: string } = {}): Promise<T> {
    const res = await this.send(method, path, opts);
    return (await res.json()) as T;
  }

  private async send(
    method: string,
    path: string,
    opts: { json?: unknown; text?: string; sse?: boolean; signal?: AbortSignal } = {},
  ): Promise<Response> {
    const headers: Record<string, string> = {};
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    if (opts.sse) headers.accept = 'text/event-stream';
    let body: string | undefined;
    if (opts.json !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(opts.json);
    } else if (opts.text !== undefined) {
      headers['content-type'] = 'text/plain; charset=utf-8';
      body = opts.text;
    }
    let res: Response;
    try {
      res = await fetch(this.baseUrl + path, { method, headers, body, signal: opts.signal });
    } catch (err) {
      throw toNetworkError(err, this.baseUrl);
    }
    if (!res.ok) throw await errorFromResponse(res);
    return res;
  }

  /** Parse a text/event-stream body; an `error` event becomes a thrown ApiRequestError. */
  private async *events(res: Response, signal?: AbortSignal): AsyncGenerator<SseEvent> {
    if (!res.body) return;
    const queue: SseEvent[] = [];
    const parser = createParser({ onEvent: (e) => queue.push({ event: e.event ?? 'message', data: e.data }) });
    const decoder = new TextDecoder();
    const reader = res.body.getReader();
    try {
      for (;;) {
        let chunk: ReadableStreamReadResult<Uint8Array>;
        try {
          chunk = await reader.read();
        } catch (err) {
          throw toNetworkError(err, this.baseUrl);
        }
        if (chunk.done) break;
        parser.feed(decoder.decode(chunk.value, { stream: true }));
        while (queue.length) {
          const ev = queue.shift()!;
          if (ev.event === 'error') throw errorFromEventData(ev.data);
          yield ev;
        }
      }
    } finally {
      if (signal?.aborted) await reader.cancel().catch(() => {});
      reader.releaseLock();
    }
  }
}

export function isAbort(err: unknown): boolean {
  return (
    (err instanceof Error && (err.name === 'AbortError' || err.name === 'TimeoutError')) ||
    (err instanceof ApiRequestError && err.code === 'aborted')
  );
}

function toNetworkError(err: unknown, baseUrl: string): Error {
  if (isAbort(err)) return new ApiRequestError('request aborted', 0, 'aborted');
  const cause = (err as { cause?: { code?: string; message?: string } })?.cause;
  const detail = cause?.code ?? cause?.message ?? (err instanceof Error ? err.message : String(err));
  return new ApiRequestError(`cannot reach ${baseUrl} (${detail})`, 0, 'unreachable');
}

async function errorFromResponse(res: Response): Promise<ApiRequestError> {
  const text = await res.text().catch(() => '');
  try {
    const body = JSON.parse(text) as { error?: { code?: string; message?: string; field?: string } };
    if (body.error?.message) {
      return new ApiRequestError(body.error.message, res.status, body.error.code ?? `http_${res.status}`, body.error.field);
    }
  } catch {
    // not JSON: fall through to the status line
  }
  const short = text.trim().split('\n')[0]?.slice(0, 200);
  return new ApiRequestError(short || `${res.status} ${res.statusText}`, res.status, `http_${res.status}`);
}

function errorFromEventData(data: string): ApiRequestError {
  try {
    const body = JSON.parse(data) as { error?: { code?: string; message?: string; field?: string }; code?: string; message?: string };
    const e = body.error ?? body;
    return new ApiRequestError(e.message ?? 'the server reported an error', 500, e.code ?? 'stream_error', (e as { field?: string }).field);
  } catch {
    return new ApiRequestError(data || 'the server reported an error', 500, 'stream_error');
  }
}

function parseObject(data: string): Record<string, unknown> {
  try {
    const v = JSON.parse(data) as unknown;
    return v && typeof v === 'object' ? (v as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

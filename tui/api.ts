// The TUI's only door to the HTTP API: screens call these methods and never touch fetch or the
// client. Built on the typed Hono RPC client (functions/client.ts, types only from the app).
// Every failure becomes an ApiRequestError (status, code, field) so errors.ts can phrase it;
// status 0 means no answer at all (code 'unreachable' or 'aborted').
import type { z } from 'zod';
import type {
  CreateRunBody,
  CorpusUploaded,
  Health,
  HealthNotReady,
  MetricPoint,
  Run,
  SampleBody,
  TrainBody,
  TrainProgress,
  TrainSummary,
} from '../shared/api/schemas.ts';
import { ApiRequestError, createClient, readSse, sseInit, type Client } from '../functions/client.ts';

export type { Run, MetricPoint, TrainProgress, TrainSummary, CreateRunBody, SampleBody, TrainBody };
/** /healthz: ready (backend, device, version), or 503 not ready yet (or failed, with the reason). */
export type HealthInfo = z.infer<typeof Health> | z.infer<typeof HealthNotReady>;
export type UploadedCorpus = z.infer<typeof CorpusUploaded>;

export type SampleEvent = { type: 'text'; text: string } | { type: 'done'; info: Record<string, unknown> };

export type TrainEvent = { type: 'progress'; data: TrainProgress } | { type: 'done'; data: TrainSummary };

export { ApiRequestError };

export interface ApiOptions {
  token?: string;
}

export class Api {
  readonly baseUrl: string;
  private readonly client: Client;

  constructor(baseUrl: string, opts: ApiOptions = {}) {
    this.baseUrl = baseUrl.replace(/\/+$/, '');
    this.client = createClient(this.baseUrl, opts.token ? { token: opts.token } : {});
  }

  async health(): Promise<HealthInfo> {
    // 503 is an answer here: the server is up, its tfjs backend is not ready (yet).
    const res = await this.call(() => this.client.healthz.$get(), [503]);
    return res.json() as Promise<HealthInfo>;
  }

  async listRuns(): Promise<Run[]> {
    const body = (await (await this.call(() => this.client.runs.$get())).json()) as { runs: Run[] };
    return body.runs;
  }

  async getRun(id: string): Promise<Run> {
    return (await this.call(() => this.client.runs[':id'].$get({ param: { id } }))).json() as Promise<Run>;
  }

  async createRun(body: CreateRunBody): Promise<Run> {
    return (await this.call(() => this.client.runs.$post({ json: body }))).json() as Promise<Run>;
  }

  async deleteRun(id: string): Promise<void> {
    await this.call(() => this.client.runs[':id'].$delete({ param: { id } }));
  }

  async uploadCorpus(text: string): Promise<UploadedCorpus> {
    const init = { body: text, headers: { 'content-type': 'text/plain; charset=utf-8' } };
    return (await this.call(() => this.client.corpora.$post({}, { init }))).json() as Promise<UploadedCorpus>;
  }

  async metrics(id: string): Promise<MetricPoint[]> {
    const res = await this.call(() => this.client.runs[':id'].metrics.$get({ param: { id }, query: {} }));
    return ((await res.json()) as { points: MetricPoint[] }).points;
  }

  /** New points as the run's trainer writes them (after `afterStep`), until aborted. */
  async *followMetrics(id: string, signal?: AbortSignal, afterStep?: number): AsyncGenerator<MetricPoint> {
    const query = { follow: '1' as const, ...(afterStep !== undefined ? { afterStep: String(afterStep) } : {}) };
    const res = await this.call(() => this.client.runs[':id'].metrics.$get({ param: { id }, query }, sseInit(signal)));
    for await (const ev of this.events(res)) {
      if (ev.event === 'point') yield JSON.parse(ev.data) as MetricPoint;
    }
  }

  /** One bounded training slice as a stream of progress events ending with its summary. */
  async *trainStream(id: string, body: TrainBody, signal?: AbortSignal): AsyncGenerator<TrainEvent> {
    const res = await this.call(() => this.client.runs[':id'].train.$post({ param: { id }, json: body }, sseInit(signal)));
    for await (const ev of this.events(res)) {
      if (ev.event === 'progress') yield { type: 'progress', data: JSON.parse(ev.data) as TrainProgress };
      else if (ev.event === 'done') {
        yield { type: 'done', data: JSON.parse(ev.data) as TrainSummary };
        return;
      }
    }
  }

  /** Generated characters as they arrive, then the `done` event's data (seed, step, checkpoint). */
  async *sampleStream(id: string, body: SampleBody, signal?: AbortSignal): AsyncGenerator<SampleEvent> {
    const res = await this.call(() => this.client.runs[':id'].sample.$post({ param: { id }, json: body }, sseInit(signal)));
    for await (const ev of this.events(res)) {
      if (ev.event === 'done') {
        yield { type: 'done', info: parseObject(ev.data) };
        return;
      }
      const data = parseObject(ev.data);
      if (typeof data.text === 'string') yield { type: 'text', text: data.text };
    }
  }

  // ---- plumbing ----

  /** Send, and turn a failed answer (or none) into an ApiRequestError; `answers` are statuses the caller reads itself. */
  private async call<R extends Response>(send: () => Promise<R>, answers: number[] = []): Promise<R> {
    let res: R;
    try {
      res = await send();
    } catch (err) {
      throw toNetworkError(err, this.baseUrl);
    }
    if (!res.ok && !answers.includes(res.status)) throw await errorFromResponse(res);
    return res;
  }

  /** SSE events; an `error` event becomes a thrown ApiRequestError, a dropped connection too. */
  private async *events(res: Response): AsyncGenerator<{ event: string; data: string }> {
    const it = readSse(res);
    for (;;) {
      let next: IteratorResult<{ event: string; data: string }>;
      try {
        next = await it.next();
      } catch (err) {
        throw toNetworkError(err, this.baseUrl);
      }
      if (next.done) return;
      if (next.value.event === 'error') throw errorFromEventData(next.value.data);
      yield next.value;
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
  if (isAbort(err)) return new ApiRequestError(0, 'aborted', 'request aborted');
  const cause = (err as { cause?: { code?: string; message?: string } })?.cause;
  const detail = cause?.code ?? cause?.message ?? (err instanceof Error ? err.message : String(err));
  return new ApiRequestError(0, 'unreachable', `cannot reach ${baseUrl} (${detail})`);
}

async function errorFromResponse(res: Response): Promise<ApiRequestError> {
  const text = await res.text().catch(() => '');
  try {
    const body = JSON.parse(text) as { error?: { code?: string; message?: string; field?: string } };
    if (body.error?.message) {
      return new ApiRequestError(res.status, body.error.code ?? `http_${res.status}`, body.error.message, body.error.field);
    }
  } catch {
    // not JSON: fall through to the status line
  }
  const short = text.trim().split('\n')[0]?.slice(0, 200);
  return new ApiRequestError(res.status, `http_${res.status}`, short || `${res.status} ${res.statusText}`);
}

function errorFromEventData(data: string): ApiRequestError {
  try {
    const body = JSON.parse(data) as { error?: { code?: string; message?: string; field?: string }; code?: string; message?: string };
    const e = body.error ?? body;
    return new ApiRequestError(500, e.code ?? 'stream_error', e.message ?? 'the server reported an error', (e as { field?: string }).field);
  } catch {
    return new ApiRequestError(500, 'stream_error', data || 'the server reported an error');
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

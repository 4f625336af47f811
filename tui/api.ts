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
import { ApiRequestError, createClient, ensureOk, isAbort, networkError, sseEvents, sseInit, uploadCorpus, type Client } from '../functions/client.ts';
import { trainSlice, type SliceEvent } from '../functions/client/slice-chain.ts';

export type { Run, MetricPoint, TrainProgress, TrainSummary, CreateRunBody, SampleBody, TrainBody };
/** /healthz: ready (backend, device, version), or 503 not ready yet (or failed, with the reason). */
export type HealthInfo = z.infer<typeof Health> | z.infer<typeof HealthNotReady>;
export type UploadedCorpus = z.infer<typeof CorpusUploaded>;

export type SampleEvent = { type: 'text'; text: string } | { type: 'done'; info: Record<string, unknown> };

export type { SliceEvent };

export { ApiRequestError, isAbort };

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

  /** The corpus's bytes as they are (the server checks the UTF-8). */
  uploadCorpus(bytes: Uint8Array | string): Promise<UploadedCorpus> {
    return uploadCorpus(this.client, bytes, this.baseUrl);
  }

  async metrics(id: string): Promise<MetricPoint[]> {
    const res = await this.call(() => this.client.runs[':id'].metrics.$get({ param: { id }, query: {} }));
    return ((await res.json()) as { points: MetricPoint[] }).points;
  }

  /** New points as the run's trainer writes them (after `afterStep`), until aborted. */
  async *followMetrics(id: string, signal?: AbortSignal, afterStep?: number): AsyncGenerator<MetricPoint> {
    const query = { follow: '1' as const, ...(afterStep !== undefined ? { afterStep: String(afterStep) } : {}) };
    for await (const ev of this.events(() => this.client.runs[':id'].metrics.$get({ param: { id }, query }, sseInit(signal)))) {
      if (ev.event === 'point') yield JSON.parse(ev.data) as MetricPoint;
    }
  }

  /** One bounded training slice as a stream of progress events ending with its summary. */
  trainStream(id: string, body: TrainBody, signal?: AbortSignal): AsyncGenerator<SliceEvent> {
    return trainSlice(this.client, this.baseUrl, id, body, signal);
  }

  /** Generated characters as they arrive, then the `done` event's data (seed, step, checkpoint). */
  async *sampleStream(id: string, body: SampleBody, signal?: AbortSignal): AsyncGenerator<SampleEvent> {
    for await (const ev of this.events(() => this.client.runs[':id'].sample.$post({ param: { id }, json: body }, sseInit(signal)))) {
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
      throw networkError(err, this.baseUrl);
    }
    return answers.includes(res.status) ? res : ensureOk(res);
  }

  /** SSE events; an `error` event, an error status or a dropped connection becomes a thrown ApiRequestError. */
  private events(send: () => Promise<Response>): AsyncGenerator<{ event: string; data: string }> {
    return sseEvents(send, this.baseUrl);
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

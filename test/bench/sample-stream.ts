// One streamed sample request over HTTP, timed: time to the first text event, characters received,
// and whether the stream ended with `done` (anything else is a failure with a one-line reason).
import { readSse } from '../../functions/client.ts';

export interface StreamResult {
  ok: boolean;
  /** ms from the request start to the first text event (NaN if none came). */
  firstCharMs: number;
  totalMs: number;
  chars: number;
  error?: string;
}

export interface SampleRequest {
  length: number;
  seed?: number;
  temperature?: number;
  prime?: string;
}

export async function streamSample(baseUrl: string, runId: string, body: SampleRequest, signal?: AbortSignal): Promise<StreamResult> {
  const t0 = performance.now();
  let firstCharMs = NaN;
  let chars = 0;
  const fail = (error: string): StreamResult => ({ ok: false, firstCharMs, totalMs: performance.now() - t0, chars, error });
  try {
    const res = await fetch(`${baseUrl}/runs/${encodeURIComponent(runId)}/sample`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
      body: JSON.stringify(body),
      ...(signal ? { signal } : {}),
    });
    if (!res.ok) return fail(`HTTP ${res.status}: ${(await res.text()).slice(0, 200)}`);
    for await (const ev of readSse(res)) {
      if (ev.event === 'message') {
        if (Number.isNaN(firstCharMs)) firstCharMs = performance.now() - t0;
        chars += [...(JSON.parse(ev.data) as { text: string }).text].length;
      } else if (ev.event === 'done') {
        const totalMs = performance.now() - t0;
        if (chars !== body.length) return { ...fail(`got ${chars} of ${body.length} chars`), totalMs };
        return { ok: true, firstCharMs, totalMs, chars };
      } else if (ev.event === 'error') {
        return fail(`error event: ${ev.data.slice(0, 200)}`);
      }
    }
    return fail('stream closed before done');
  } catch (e) {
    return fail(e instanceof Error ? e.message : String(e));
  }
}

// A sampling thread: hosts one BatchSampler per checkpoint it was sent, steps its streams and posts
// each turn's new text back in one message. It never touches the store.
import { parentPort, workerData } from 'node:worker_threads';
import { BatchSampler, initBackend, type SampleStream } from '../../shared/engine/index.ts';
import { EngineInputError } from '../../shared/engine/types.ts';
import type { FromWorker, SamplingWorkerData, StreamUpdate, ToWorker, WireError } from './protocol.ts';

const port = parentPort!;
const { engine } = (workerData as SamplingWorkerData | null) ?? { engine: {} };
const samplers = new Map<string, Promise<BatchSampler>>();
/** Open streams by id, grouped under their sampler's key. */
const streams = new Map<string, Map<number, SampleStream>>();
/** Cancels of streams whose open is still waiting for its sampler. */
const aborts = new Map<number, AbortController>();

const post = (m: FromWorker) => port.postMessage(m);

function wire(err: unknown): WireError {
  if (err instanceof EngineInputError) return { name: err.name, message: err.message, field: err.field };
  return { name: 'Error', message: err instanceof Error ? err.message : String(err) };
}

/** Post the new text of `key`'s streams and the ends; forget ended streams. */
function report(key: string, sampler: BatchSampler): void {
  const open = streams.get(key);
  if (!open) return;
  const updates: StreamUpdate[] = [];
  for (const [id, s] of open) {
    const text = s.take();
    const { status, error } = s.outcome;
    if (status === 'running') {
      if (text) updates.push({ id, text });
      continue;
    }
    open.delete(id);
    aborts.delete(id);
    updates.push({ id, text, end: status, ...(status === 'failed' ? { error: wire(error) } : {}) });
  }
  if (updates.length) post({ type: 'turn', key, stats: { ...sampler.stats }, updates });
}

async function handle(m: ToWorker): Promise<void> {
  switch (m.type) {
    case 'load': {
      // The server thread has read these files already; a failure here fails the streams opened on it.
      // (With the server's settings: BatchSampler.load alone would retry a failed load with none.)
      const loading = initBackend(engine).then(() => BatchSampler.load(m.files));
      samplers.set(m.key, loading);
      streams.set(m.key, new Map());
      loading.then((sampler) => (sampler.onTurn = () => report(m.key, sampler)), () => {});
      return;
    }
    case 'dispose': {
      const loading = samplers.get(m.key);
      samplers.delete(m.key);
      streams.delete(m.key);
      (await loading?.catch(() => null))?.dispose();
      return;
    }
    case 'open': {
      const abort = new AbortController();
      aborts.set(m.id, abort);
      try {
        const sampler = await samplers.get(m.key);
        if (!sampler) throw new Error(`checkpoint ${m.key} is not loaded in this sampling thread`);
        streams.get(m.key)!.set(m.id, sampler.open({ ...m.opts, signal: abort.signal }));
        report(m.key, sampler); // a stream that ended at once (length 0, cancelled meanwhile)
      } catch (err) {
        aborts.delete(m.id);
        post({ type: 'turn', key: m.key, updates: [{ id: m.id, text: '', end: 'failed', error: wire(err) }] });
      }
      return;
    }
    case 'cancel': {
      aborts.get(m.id)?.abort();
      // Say so at once: the batch loop reports only while it runs.
      for (const [key, open] of streams) {
        if (open.has(m.id)) void samplers.get(key)?.then((s) => report(key, s));
      }
      return;
    }
  }
}

port.on('message', (m: ToWorker) => void handle(m));
initBackend(engine).catch(() => {}); // warm up before the first checkpoint arrives (a failure resurfaces on load)

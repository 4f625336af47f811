// The exported page: text generated in the browser, character by character, from the checkpoint
// that model.js defines, with the controls of POST /runs/:id/sample (SampleBody, the same schema
// and defaults). The step arithmetic, the draw and the seeded RNG are the engine's own
// (shared/engine/text-sampler.ts), on tfjs's CPU backend: same seed, same text as the server, up
// to the last bits of the float kernels.
import * as tf from '@tensorflow/tfjs';
import type { z } from 'zod';
import { SampleBody } from '../../../shared/api/schemas.ts';
import { TextSampler } from '../../../shared/engine/text-sampler.ts';
import { EngineInputError } from '../../../shared/engine/types.ts';
import { MODEL_GLOBAL, type ExportedModel } from './site.mjs';

const Controls = SampleBody.pick({ prime: true, temperature: true, topK: true, topP: true, length: true, seed: true });
type ControlValues = z.output<typeof Controls>;
const FIELDS = ['prime', 'temperature', 'topK', 'topP', 'length', 'seed'] as const;
type Field = (typeof FIELDS)[number];

const $ = <T extends HTMLElement>(selector: string) => document.querySelector(selector) as T;
const form = $<HTMLFormElement>('#controls');
const input = (name: Field) => form.elements.namedItem(name) as HTMLInputElement;
const generateButton = $<HTMLButtonElement>('#generate');
const stopButton = $<HTMLButtonElement>('#stop');
const status = $<HTMLElement>('#status');

function setState(state: 'loading' | 'ready' | 'generating' | 'done' | 'stopped' | 'failed'): void {
  document.body.dataset.state = state;
  generateButton.disabled = state === 'loading' || state === 'generating' || state === 'failed';
  stopButton.disabled = state !== 'generating';
}

function showErrors(errors: Partial<Record<Field, string>>): void {
  document.querySelectorAll<HTMLElement>('.error').forEach((el) => (el.textContent = errors[el.dataset.for as Field] ?? ''));
}

/** The form as SampleBody reads it: empty fields take the API's defaults (a random seed). */
function readControls(): { ok: true; value: ControlValues } | { ok: false; errors: Partial<Record<Field, string>> } {
  const raw: Record<string, unknown> = { prime: input('prime').value };
  for (const f of FIELDS.slice(1)) {
    const v = input(f).value.trim();
    if (v !== '') raw[f] = Number(v);
  }
  const parsed = Controls.safeParse(raw);
  if (parsed.success) return { ok: true, value: parsed.data };
  const errors: Partial<Record<Field, string>> = {};
  for (const issue of parsed.error.issues) errors[issue.path[0] as Field] ??= issue.message;
  return { ok: false, errors };
}

function base64Bytes(b64: string): Uint8Array {
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

async function main(): Promise<void> {
  const data = (globalThis as Record<string, unknown>)[MODEL_GLOBAL] as ExportedModel | undefined;
  if (!data) {
    $('#about').textContent = 'model.js did not load: keep it in the same folder as this page.';
    return setState('failed');
  }
  await tf.setBackend('cpu');
  const sampler = TextSampler.fromModelFiles({
    'model.json': new TextEncoder().encode(JSON.stringify(data.modelJson)),
    'weights.bin': base64Bytes(data.weights),
  });
  const m = sampler.model;
  document.title = `${data.run.name} · charrnn`;
  $('#title').textContent = data.run.name;
  $('#about').textContent =
    `${m.cell.toUpperCase()} ${m.layers}×${m.hidden}, ${sampler.vocab.size} characters; checkpoint ${data.checkpoint} (step ${data.step}) of run ${data.run.id}. ` +
    `It runs in this browser (tfjs ${tf.version_core}, ${tf.getBackend()} backend); nothing is sent anywhere.`;
  const defaults = Controls.parse({});
  for (const f of FIELDS) if (f !== 'seed') input(f).value = String(defaults[f]);

  let abort: AbortController | null = null;
  stopButton.addEventListener('click', () => abort?.abort());
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    if (abort) return;
    const read = readControls();
    showErrors(read.ok ? {} : read.errors);
    if (!read.ok) return;
    abort = new AbortController();
    void generate(read.value, abort.signal).finally(() => (abort = null));
  });
  setState('ready');

  async function generate(o: ControlValues, signal: AbortSignal): Promise<void> {
    const seed = o.seed ?? Math.floor(Math.random() * 2 ** 31);
    $('#prime-shown').textContent = o.prime;
    const out = $('#generated');
    out.textContent = '';
    const text = out.appendChild(document.createTextNode(''));
    setState('generating');
    status.textContent = `generating… seed ${seed}`;
    const t0 = performance.now();
    let n = 0;
    try {
      for await (const ch of sampler.generate({ ...o, seed, signal })) {
        text.appendData(ch);
        n++;
      }
    } catch (e) {
      if (e instanceof EngineInputError && (FIELDS as readonly string[]).includes(e.field)) showErrors({ [e.field]: e.message });
      status.textContent = e instanceof Error ? e.message : String(e);
      return setState('ready');
    }
    const seconds = (performance.now() - t0) / 1000;
    status.textContent = `${n} characters in ${seconds.toFixed(2)} s (${Math.round(n / seconds)}/s) · seed ${seed}${signal.aborted ? ' · stopped' : ''}`;
    setState(signal.aborted ? 'stopped' : 'done');
  }
}

main().catch((e: unknown) => {
  $('#about').textContent = `The model could not load: ${e instanceof Error ? e.message : String(e)}`;
  setState('failed');
});

// Generate text from a run's checkpoint: sampling settings on top, the text streaming in below,
// earlier generations kept above it (scrollable), and `w` saves them all to a file.
import { useEffect, useMemo, useRef, useState } from 'react';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Box, Text } from 'ink';
import { ApiRequestError, isAbort, type SampleBody } from '../api.ts';
import { useFooter, useUi } from '../context.ts';
import { useKeys } from '../hooks/useKeys.ts';
import { useFormValues } from '../hooks/useFormValues.ts';
import { describeError, fieldMessage } from '../errors.ts';
import { Form, formKey, type FieldSpec } from '../components/Form.tsx';
import { useBatchedText } from '../hooks/useBatchedText.ts';
import { wrap } from '../format.ts';

const FIELDS: FieldSpec[] = [
  { kind: 'text', key: 'prime', label: 'Prime', placeholder: '(none)', hint: 'text the model continues' },
  { kind: 'text', key: 'temperature', label: 'Temperature', hint: '0 = greedy, 1 = as trained, >1 wilder' },
  { kind: 'text', key: 'topK', label: 'Top-k', hint: '0 = off' },
  { kind: 'text', key: 'topP', label: 'Top-p', hint: '1 = off' },
  { kind: 'text', key: 'length', label: 'Length', hint: 'characters to generate' },
  { kind: 'text', key: 'seed', label: 'Seed', placeholder: '(random)' },
  { kind: 'choice', key: 'checkpoint', label: 'Checkpoint', options: ['latest', 'best'] },
];
const OUTPUT = FIELDS.length;

interface Generation {
  n: number;
  settings: string;
  text: string;
  state: 'streaming' | 'done' | 'stopped' | 'failed';
}

export function GenerateScreen({ runId }: { runId: string }) {
  const { api, navigate, notify, active, columns, bodyRows, saveDir } = useUi();
  const { values, setValue, latest } = useFormValues({
    prime: '',
    temperature: '0.8',
    topK: '0',
    topP: '1',
    length: '300',
    seed: '',
    checkpoint: 'latest',
  });
  const [errors, setErrors] = useState<Record<string, string | undefined>>({});
  const [focus, setFocus] = useState(0);
  const [history, setHistory] = useState<Generation[]>([]);
  const [scroll, setScroll] = useState(0);
  const stream = useBatchedText(20);
  const abort = useRef<AbortController | null>(null);
  const streaming = history.some((g) => g.state === 'streaming');

  useEffect(() => () => abort.current?.abort(), []);

  const typing = focus < OUTPUT && FIELDS[focus].kind === 'text';
  useFooter(
    'generate',
    typing ? ['field', 'generate', 'stop'] : focus < OUTPUT ? ['field', 'choose', 'generate', 'stop', 'save'] : ['field', 'generate', 'stop', 'save', 'scroll', 'ends'],
    typing,
  );

  const onChange = (key: string, value: string) => {
    setValue(key, value);
    setErrors((e) => ({ ...e, [key]: undefined }));
  };

  const generate = async () => {
    if (streaming) return;
    const values = latest.current; // not the render's copy: see useFormValues
    const local: Record<string, string> = {};
    const num = (key: string, int: boolean): number | undefined => {
      const raw = (values[key] ?? '').trim();
      if (!raw) return undefined;
      const n = Number(raw);
      if (!Number.isFinite(n)) local[key] = `"${raw}" is not a number`;
      else if (int && !Number.isInteger(n)) local[key] = 'must be a whole number';
      else return n;
      return undefined;
    };
    const body: SampleBody = {
      prime: values.prime,
      temperature: num('temperature', false),
      topK: num('topK', true),
      topP: num('topP', false),
      length: num('length', true),
      seed: num('seed', true),
      checkpoint: values.checkpoint as 'latest' | 'best',
    };
    if (Object.keys(local).length) {
      setErrors(local);
      notify('Fix the fields marked ✗.', 'error');
      return;
    }
    for (const k of Object.keys(body) as (keyof SampleBody)[]) if (body[k] === undefined) delete body[k];

    const n = (history.at(-1)?.n ?? 0) + 1;
    const settings = [
      `#${n}`,
      `T=${body.temperature ?? 1}`,
      `top-k ${body.topK ?? 0}`,
      `top-p ${body.topP ?? 1}`,
      `${body.length ?? 200} chars`,
      body.seed !== undefined ? `seed ${body.seed}` : null,
      values.checkpoint,
    ]
      .filter(Boolean)
      .join(' · ');
    const ctrl = new AbortController();
    abort.current = ctrl;
    stream.reset();
    stream.append(values.prime);
    setHistory((h) => [...h, { n, settings, text: '', state: 'streaming' }]);
    setScroll(0);
    setFocus(OUTPUT);
    notify(null);
    let text = values.prime;
    let final: Generation['state'] = 'done';
    let suffix = '';
    try {
      for await (const ev of api.sampleStream(runId, body, ctrl.signal)) {
        if (ev.type === 'text') {
          text += ev.text;
          stream.append(ev.text);
        } else {
          const bits = [body.seed === undefined && typeof ev.info.seed === 'number' ? `seed ${ev.info.seed}` : null, typeof ev.info.step === 'number' ? `step ${ev.info.step}` : null];
          suffix = bits.filter(Boolean).map((b) => ` · ${b}`).join('');
        }
      }
    } catch (err) {
      if (isAbort(err) || ctrl.signal.aborted) final = 'stopped';
      else {
        final = 'failed';
        if (err instanceof ApiRequestError && err.field && FIELDS.some((f) => f.key === err.field)) {
          setErrors({ [err.field]: fieldMessage(err) });
          setFocus(FIELDS.findIndex((f) => f.key === err.field));
        }
        notify(describeError(err), 'error');
      }
    }
    abort.current = null;
    stream.reset();
    setHistory((h) => h.map((g) => (g.n === n ? { ...g, text, state: final, settings: g.settings + suffix } : g)));
  };

  const save = async () => {
    const done = history.filter((g) => g.state !== 'streaming');
    if (!done.length) return notify('Nothing to save yet — press Enter to generate.');
    const stamp = new Date().toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
    const path = join(saveDir, `charrnn-${runId}-${stamp}.txt`);
    const body = done.map((g) => `--- ${g.settings} (${g.state}) ---\n${g.text}\n`).join('\n');
    try {
      await writeFile(path, body, 'utf8');
      notify(`Saved ${done.length} generation${done.length === 1 ? '' : 's'} to ${path}`, 'success');
    } catch (err) {
      notify(`Could not write ${path}: ${(err as Error).message} — check the directory is writable.`, 'error');
    }
  };

  // The scrollback: every generation as wrapped lines, the streaming one last.
  const width = Math.max(20, columns - 2);
  const lines = useMemo(() => {
    const out: { text: string; header: boolean; key: string }[] = [];
    for (const g of history) {
      const status = g.state === 'streaming' ? ' ▌' : g.state === 'done' ? '' : ` (${g.state})`;
      out.push({ text: `── ${g.settings}${status} `.padEnd(width, '─'), header: true, key: `h${g.n}` });
      const body = g.state === 'streaming' ? stream.text : g.text;
      wrap(body, width).forEach((l, i) => out.push({ text: l, header: false, key: `${g.n}:${i}` }));
    }
    return out;
  }, [history, stream.text, width]);
  const outRows = Math.max(3, bodyRows - FIELDS.length - 1);
  const maxScroll = Math.max(0, lines.length - outRows);
  const offset = Math.min(scroll, maxScroll);
  const shown = lines.slice(Math.max(0, lines.length - outRows - offset), lines.length - offset);

  useKeys(
    (input, key) => {
      if (key.escape) {
        if (streaming) abort.current?.abort();
        else navigate({ name: 'run', runId });
        return;
      }
      if (key.tab) return setFocus((f) => (key.shift ? (f + OUTPUT) % (OUTPUT + 1) : (f + 1) % (OUTPUT + 1)));
      if (key.pageUp) return setScroll((s) => Math.min(maxScroll, s + outRows - 1));
      if (key.pageDown) return setScroll((s) => Math.max(0, s - outRows + 1));
      if (focus === OUTPUT) {
        if (key.return) return void generate();
        if (input === 'w') return void save();
        if (input === 'k' || key.upArrow) return setScroll((s) => Math.min(maxScroll, s + 1));
        if (input === 'j' || key.downArrow) return setScroll((s) => Math.max(0, s - 1));
        if (input === 'g' || key.home) return setScroll(maxScroll);
        if (input === 'G' || key.end) return setScroll(0);
        return;
      }
      if (key.downArrow) return setFocus((f) => Math.min(OUTPUT, f + 1));
      if (key.upArrow) return setFocus((f) => Math.max(0, f - 1));
      const field = FIELDS[focus];
      if (field.kind !== 'choice') return; // text fields handle their own keys (Enter submits)
      if (key.return) return void generate();
      if (input === 'w') return void save();
      formKey(FIELDS, focus, setFocus, values, onChange, input, { ...key, tab: false, upArrow: false, downArrow: false });
    },
    { isActive: active },
  );

  return (
    <Box flexDirection="column">
      <Form
        fields={FIELDS}
        values={values}
        errors={errors}
        focus={focus < OUTPUT ? focus : -1}
        onChange={onChange}
        onSubmit={() => void generate()}
        active={active}
        labelWidth={13}
      />
      <Box flexDirection="column" height={outRows + 1}>
        <Text wrap="truncate-end">
          <Text dimColor={focus !== OUTPUT} color={focus === OUTPUT ? 'cyan' : undefined} bold={focus === OUTPUT}>
            {focus === OUTPUT ? '› ' : '  '}Output
          </Text>
          <Text dimColor>{outputStatus(history.at(-1), stream.text.length)}</Text>
          {offset ? <Text color="yellow"> · scrolled up {offset} lines (j/PgDn returns)</Text> : null}
        </Text>
        {shown.map((l) => (
          <Text key={l.key} dimColor={l.header} color={l.header ? undefined : 'white'}>
            {l.text || ' '}
          </Text>
        ))}
      </Box>
    </Box>
  );
}

/** The Output heading's summary of the latest generation (its own header may be scrolled away). */
function outputStatus(last: Generation | undefined, streamed: number): string {
  if (!last) return ' — press Enter to generate';
  if (last.state === 'streaming') return ` · #${last.n} streaming ▌ ${streamed.toLocaleString('en')} chars so far · Esc stops`;
  return ` · #${last.n} ${last.state} · ${last.text.length.toLocaleString('en')} chars`;
}

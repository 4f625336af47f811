// Create a run: corpus (built-in or a local file to upload), size preset, and optionally every
// hyperparameter. The API validates; its 400 `field` is shown next to the matching field.
import { useMemo, useState } from 'react';
import { Box, Text } from 'ink';
import { CorpusFileError, readCorpusFile, type CorpusFile } from '../../functions/client/corpus-file.ts';
import { BUILTIN_CORPORA } from '../../shared/builtin-corpora.mjs';
import { AUTO_DEFAULT_SECONDS, DEFAULT_PRESET, describePreset, PRESETS, type Preset } from '../../shared/presets.ts';
import { RUN_ID_RULE, runIdFromName } from '../../shared/run-id.ts';
import { ApiRequestError, type CreateRunBody } from '../api.ts';
import { useFooter, useUi } from '../context.ts';
import { useKeys } from '../hooks/useKeys.ts';
import { useFormValues } from '../hooks/useFormValues.ts';
import { describeError, fieldMessage, withField } from '../errors.ts';
import { Form, formKey, type FieldSpec } from '../components/Form.tsx';

const FILE = 'local file…';
const DEFAULT = 'preset';

type NumberKind = 'int' | 'float';
/** Advanced hyperparameters typed as text; empty = the preset's value. */
const NUMERIC: { key: string; label: string; kind: NumberKind; hint: string }[] = [
  { key: 'layers', label: 'layers', kind: 'int', hint: 'stacked recurrent layers (1-8)' },
  { key: 'hidden', label: 'hidden', kind: 'int', hint: 'units per layer' },
  { key: 'dropout', label: 'dropout', kind: 'float', hint: '0-0.9, between layers' },
  { key: 'embedding', label: 'embedding', kind: 'int', hint: 'embedding size, or "none" for one-hot' },
  { key: 'seqLen', label: 'seqLen', kind: 'int', hint: 'characters per BPTT window' },
  { key: 'batchSize', label: 'batchSize', kind: 'int', hint: 'parallel streams' },
  { key: 'lr', label: 'lr', kind: 'float', hint: 'learning rate' },
  { key: 'lrDecay', label: 'lrDecay', kind: 'float', hint: 'per-epoch multiplier (1 = off)' },
  { key: 'lrDecayAfter', label: 'lrDecayAfter', kind: 'int', hint: 'epochs before decay starts' },
  { key: 'gradClip', label: 'gradClip', kind: 'float', hint: 'global norm clip (0 = off)' },
  { key: 'evalEvery', label: 'evalEvery', kind: 'int', hint: 'validate every N steps' },
  { key: 'evalChars', label: 'evalChars', kind: 'int', hint: 'validation chars cap (0 = all)' },
  { key: 'divergenceFactor', label: 'divergenceFactor', kind: 'float', hint: 'stop when loss > this × first loss' },
  { key: 'seed', label: 'seed', kind: 'int', hint: 'random seed' },
  { key: 'sampleEvery', label: 'sampleEvery', kind: 'int', hint: 'sample while training every N steps (0 = never; empty = at each validation)' },
  { key: 'sampleLength', label: 'sampleLength', kind: 'int', hint: 'characters per sample while training' },
  { key: 'sampleTemperature', label: 'sampleTemperature', kind: 'float', hint: 'their temperature' },
  { key: 'sampleSeed', label: 'sampleSeed', kind: 'int', hint: 'their seed (the same every time)' },
];

const BASE_FIELDS: FieldSpec[] = [
  { kind: 'choice', key: 'corpus', label: 'Corpus', options: [...BUILTIN_CORPORA, FILE], hint: '←→ to choose' },
  { kind: 'text', key: 'path', label: 'File', placeholder: './my-text.txt', hint: 'a UTF-8 text file, uploaded to the server' },
  { kind: 'text', key: 'id', label: 'Run id', placeholder: '(generated)', hint: RUN_ID_RULE },
  { kind: 'text', key: 'name', label: 'Name', placeholder: '(same as id)' },
  { kind: 'choice', key: 'preset', label: 'Size', options: PRESETS, hint: (value) => `${value}: ${describePreset(value as Preset)}` },
  { kind: 'text', key: 'budget', label: 'Budget', placeholder: `${AUTO_DEFAULT_SECONDS / 60} min`, hint: 'minutes you plan to train it: auto sizes the model for them' },
  { kind: 'choice', key: 'advanced', label: 'Advanced', options: ['off', 'on'], hint: 'set every hyperparameter' },
];

const ADVANCED_FIELDS: FieldSpec[] = [
  { kind: 'choice', key: 'cell', label: 'cell', options: [DEFAULT, 'lstm', 'gru'] },
  ...NUMERIC.map((n): FieldSpec => ({ kind: 'text', key: n.key, label: n.label, placeholder: DEFAULT, hint: n.hint })),
  { kind: 'choice', key: 'amsgrad', label: 'amsgrad', options: [DEFAULT, 'on', 'off'] },
  { kind: 'text', key: 'samplePrime', label: 'samplePrime', placeholder: '(none)', hint: 'text each sample while training starts from' },
];

export function NewRunScreen() {
  const { api, navigate, notify, active, bodyRows } = useUi();
  const { values, setValue, latest } = useFormValues({
    corpus: BUILTIN_CORPORA[0],
    preset: DEFAULT_PRESET,
    advanced: 'off',
    cell: DEFAULT,
    amsgrad: DEFAULT,
  });
  const [errors, setErrors] = useState<Record<string, string | undefined>>({});
  const [focus, setFocus] = useState(0);
  const [busy, setBusy] = useState<string | null>(null);

  // An empty id is the server's runIdFromName(name): shown as the placeholder while a name is typed.
  const derivedId = runIdFromName(values.name ?? '');
  const fields = useMemo(
    () => [
      ...shownBaseFields(values).map((f) =>
        f.key === 'id' && derivedId ? { ...f, placeholder: derivedId } : f,
      ),
      ...(values.advanced === 'on' ? ADVANCED_FIELDS : []),
    ],
    [values.corpus, values.preset, values.advanced, derivedId],
  );
  const focused = fields[Math.min(focus, fields.length - 1)];
  const typing = focused?.kind === 'text';
  useFooter('new', ['field', ...(typing ? [] : ['choose']), 'create', 'back'], typing);

  const onChange = (key: string, value: string) => {
    setValue(key, value);
    setErrors((e) => ({ ...e, [key]: undefined }));
  };

  const submit = async () => {
    if (busy) return;
    const values = latest.current; // not the render's copy: see useFormValues
    const local: Record<string, string> = {};
    const config: Record<string, unknown> = { preset: values.preset };
    for (const n of NUMERIC) {
      const raw = (values[n.key] ?? '').trim();
      if (!raw) continue;
      if (n.key === 'embedding' && raw.toLowerCase() === 'none') {
        config.embedding = null;
        continue;
      }
      const num = Number(raw);
      if (!Number.isFinite(num)) local[n.key] = `"${raw}" is not a number`;
      else if (n.kind === 'int' && !Number.isInteger(num)) local[n.key] = 'must be a whole number';
      else config[n.key] = num;
    }
    const budget = (values.budget ?? '').trim().replace(/\s*min$/, '');
    if (budget && values.preset === 'auto') {
      const minutes = Number(budget);
      if (!(Number.isFinite(minutes) && minutes > 0)) local.budget = `"${budget}" is not a number of minutes`;
      else config.budgetSeconds = minutes * 60;
    }
    if (values.cell !== DEFAULT) config.cell = values.cell;
    if (values.amsgrad !== DEFAULT) config.amsgrad = values.amsgrad === 'on';
    if (values.samplePrime) config.samplePrime = values.samplePrime; // spaces count: a prime is text
    if (values.corpus === FILE && !(values.path ?? '').trim()) local.path = 'enter the path of a text file';
    if (Object.keys(local).length) {
      setErrors(local);
      notify('Fix the fields marked ✗.', 'error');
      return;
    }

    let corpus: CreateRunBody['corpus'] = values.corpus as CreateRunBody['corpus'];
    let corpusName: string | undefined;
    try {
      if (values.corpus === FILE) {
        let file: CorpusFile;
        try {
          file = await readCorpusFile(values.path.trim());
        } catch (err) {
          setErrors({ path: err instanceof CorpusFileError ? err.message : String(err) });
          return;
        }
        setBusy(`Uploading ${file.path} (${file.bytes.length.toLocaleString()} bytes)…`);
        corpus = (await api.uploadCorpus(file.bytes)).ref as CreateRunBody['corpus'];
        corpusName = file.name;
      }
      setBusy('Creating run…');
      const body: CreateRunBody = { corpus, config: config as CreateRunBody['config'] };
      if (values.id?.trim()) body.id = values.id.trim();
      if (values.name?.trim()) body.name = values.name.trim();
      if (corpusName) body.corpusName = corpusName;
      const run = await api.createRun(body);
      navigate({ name: 'run', runId: run.id });
      notify(`Created run ${run.id}${run.sizing ? ` (${run.sizing})` : ''}. Press t to train.`, 'success');
    } catch (err) {
      setBusy(null);
      if (err instanceof ApiRequestError && err.field) {
        const key = fieldKey(err.field, values.corpus === FILE);
        setErrors({ [key]: fieldMessage(err) });
        // Open the advanced section if that is where the field lives, then focus it.
        const expanded = [...shownBaseFields(values), ...ADVANCED_FIELDS];
        if (ADVANCED_FIELDS.some((f) => f.key === key)) setValue('advanced', 'on');
        const index = expanded.findIndex((f) => f.key === key);
        if (index >= 0) setFocus(index);
        notify(`${withField(err)} — fix it and press Enter again.`, 'error');
      } else {
        notify(describeError(err), 'error');
      }
      return;
    }
  };

  useKeys(
    (input, key) => {
      if (busy) return;
      if (key.escape) return navigate({ name: 'runs' });
      if (key.return && focused?.kind === 'choice') return void submit();
      formKey(fields, Math.min(focus, fields.length - 1), setFocus, values, onChange, input, key);
    },
    { isActive: active },
  );

  return (
    <Box flexDirection="column">
      <Form
        fields={fields}
        values={values}
        errors={errors}
        focus={Math.min(focus, fields.length - 1)}
        onChange={onChange}
        onSubmit={() => void submit()}
        active={active && !busy}
        maxRows={Math.max(4, bodyRows - 3)}
        labelWidth={18}
      />
      <Box marginTop={1}>
        {busy ? <Text color="yellow">{busy}</Text> : <Text dimColor>Enter creates the run · Esc goes back</Text>}
      </Box>
    </Box>
  );
}

/** Map an API error's field path ('config.hidden', 'corpus', 'id') to a form field. */
/** The base fields the form shows: File only for a local file, Budget only while the size is auto. */
function shownBaseFields(values: Record<string, string | undefined>): FieldSpec[] {
  return BASE_FIELDS.filter((f) => (f.key !== 'path' || values.corpus === FILE) && (f.key !== 'budget' || values.preset === 'auto'));
}

export function fieldKey(field: string, fileCorpus: boolean): string {
  const parts = field.split('.').filter((p) => p !== 'body' && p !== 'config');
  const key = parts[0] ?? field;
  if (key === 'corpus') return fileCorpus ? 'path' : 'corpus';
  if (key === 'budgetSeconds') return 'budget'; // typed in minutes
  return key;
}

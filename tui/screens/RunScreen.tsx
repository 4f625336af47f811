// One run: a live loss chart (asciichart), the latest sample the trainer wrote (←/→ page through
// earlier ones), progress, speed, ETA and backend; start a chain of training slices for N epochs or
// until stopped; stop cleanly; or tail another client's run.
import { useEffect, useMemo, useState, useSyncExternalStore } from 'react';
import { Box, Text } from 'ink';
import TextInput from 'ink-text-input';
import { useFooter, useUi } from '../context.ts';
import { useKeys } from '../hooks/useKeys.ts';
import { flowText, fmtDuration, fmtLoss, fmtParams, fmtRate, fmtSize, wrap } from '../format.ts';
import { lossSeries, plotLoss } from '../chart.ts';
import type { RunSessionState } from '../run-session.ts';
import type { MetricPoint, Run } from '../api.ts';

export function RunScreen({ runId }: { runId: string }) {
  const { sessions, navigate, notify, active, columns, bodyRows, serverBackend } = useUi();
  const session = sessions.get(runId);
  const state = useSyncExternalStore(session.subscribe, session.getState);
  const [prompt, setPrompt] = useState<string | null>(null);
  /** The sample on show: an index into `samples`, or null for the newest as they come. */
  const [picked, setPicked] = useState<number | null>(null);

  useEffect(() => {
    if (!session.busy) void session.load();
  }, [session]);

  useEffect(() => {
    if (state.error) notify(state.error, 'error');
  }, [state.error, notify]);

  const pointCount = state.points.length;
  // points only grow (appended in place), so their count is the cache key
  const samples = useMemo(() => state.points.flatMap((p) => (p.sample ? [p.sample] : [])), [pointCount, state.points]);

  const training = state.phase === 'training' || state.phase === 'stopping';
  const footerIds =
    prompt !== null
      ? []
      : [
          ...(state.phase === 'idle' ? ['train'] : []),
          ...(training ? ['stop'] : state.phase === 'following' ? ['unwatch'] : []),
          ...(samples.length > 1 ? ['samples'] : []),
          'generate',
          'refresh',
          'back',
        ];
  useFooter('run', footerIds, prompt !== null);

  useKeys(
    (input, key) => {
      if (prompt !== null) {
        if (key.escape) setPrompt(null);
        return;
      }
      if (key.escape) return navigate({ name: 'runs' });
      if (input === 't') {
        if (state.phase === 'idle') setPrompt('');
        else notify(state.phase === 'following' ? 'Another client is training this run; press s to stop watching first.' : 'Already training.');
      } else if (input === 's') {
        if (state.phase === 'idle') notify('Not training.');
        else session.stop();
      } else if (input === 'g') navigate({ name: 'generate', runId });
      else if (input === 'r') void (session.busy ? session.refreshRun() : session.load());
      else if (key.leftArrow) setPicked((i) => Math.max(0, (i ?? samples.length - 1) - 1));
      else if (key.rightArrow) setPicked((i) => (i === null || i >= samples.length - 2 ? null : i + 1));
    },
    { isActive: active },
  );

  const startTraining = (text: string) => {
    const raw = text.trim();
    const epochs = raw === '' ? null : Number(raw);
    if (epochs !== null && !(Number.isFinite(epochs) && epochs > 0)) {
      notify(`"${raw}" is not a number of epochs: type e.g. 2 or 0.5, or leave it empty to train until stopped.`, 'error');
      return;
    }
    setPrompt(null);
    notify(epochs === null ? 'Training until stopped (s stops).' : `Training ${epochs} epoch${epochs === 1 ? '' : 's'}.`);
    void session.start(epochs);
  };

  const run = state.run;
  const chartWidth = Math.max(10, columns - 12);
  // The sample takes a heading and up to 4 rows; the chart keeps at least 4.
  // Rows around the chart: the header, the sizing line, the legend, the status lines and the samples' frame.
  const fixedRows = 9;
  const sampleRows = Math.max(1, Math.min(4, Math.floor((bodyRows - fixedRows) / 3)));
  const chartHeight = Math.max(4, bodyRows - fixedRows - sampleRows);
  const chart = useMemo(
    () => plotLoss(lossSeries(state.points, chartWidth), chartHeight),
    // points only grow (appended in place), so their count is the cache key
    [pointCount, state.points, chartWidth, chartHeight],
  );

  if (!run) return <Text dimColor>{state.error ? '' : `Loading ${runId}…`}</Text>;

  const lastTrain = lastOf(state.points, (p) => p.trainLoss);
  const speed =
    state.progress?.charsPerSec ?? state.summary?.charsPerSec ?? lastOf(state.points, (p) => p.charsPerSec) ?? null;
  return (
    <Box flexDirection="column">
      <Box height={1}>
        <Text bold>{run.name}</Text>
        <Text dimColor wrap="truncate-end">
          {'  '}
          {run.corpusName} · {run.model.cell} {fmtSize(run)} {fmtParams(run.params)} · seqLen {run.train.seqLen} · batch {run.train.batchSize} · lr{' '}
          {run.train.lr}
        </Text>
        <Box flexGrow={1} />
        <PhaseBadge state={state} />
      </Box>
      <Box height={1}>
        <Text dimColor wrap="truncate-end">size {run.sizing ?? `${fmtSize(run)} (chosen before sizes were recorded)`}</Text>
      </Box>
      <Box height={1}>
        <Text wrap="truncate-end">
          <Text color="cyan">━ train</Text> <Text color="yellow">━ validation</Text>
          <Text dimColor>  loss in nats/char (bits/char = nats ÷ ln 2)</Text>
        </Text>
      </Box>
      <Box flexDirection="column" height={chartHeight}>
        {chart.length ? (
          chart.map((line, i) => (
            <Text key={i} wrap="truncate-end">
              {line}
            </Text>
          ))
        ) : (
          <Text dimColor>No metrics yet — press t to train.</Text>
        )}
      </Box>
      <Box height={1}>
        <Text dimColor>
          {'         '}steps {state.points[0]?.step ?? 0} → {run.step}
        </Text>
      </Box>
      <SamplePanel run={run} samples={samples} index={picked} width={Math.max(10, columns - 2)} rows={sampleRows} />
      <Progress state={state} width={Math.min(40, Math.max(10, columns - 60))} />
      <Box height={1}>
        <Text wrap="truncate-end">
          step <Text bold>{run.step}</Text> · epoch <Text bold>{run.epoch.toFixed(2)}</Text> · {fmtRate(speed)} chars/s · backend{' '}
          {state.backend ?? serverBackend ?? '—'} · train {fmtLoss(lastTrain)} · val {fmtLoss(run.latestValLoss)} · best{' '}
          <Text color="green">{fmtLoss(run.bestValLoss)}</Text>
        </Text>
      </Box>
      <Box height={1}>
        {prompt !== null ? (
          <Text>
            <Text color="cyan">Epochs to train (empty = until stopped): </Text>
            <TextInput value={prompt} onChange={setPrompt} onSubmit={startTraining} focus={active} placeholder="until stopped" />
          </Text>
        ) : state.note ? (
          <Text color="yellow" wrap="truncate-end">
            {state.note}
          </Text>
        ) : run.status === 'failed' && run.error ? (
          <Text color="red" wrap="truncate-end">
            Run failed: {run.error}
          </Text>
        ) : state.summary && state.phase === 'idle' ? (
          <Text dimColor wrap="truncate-end">
            Last slice: {state.summary.steps} steps in {state.summary.seconds.toFixed(1)}s ({state.summary.stopReason}), checkpoint at step{' '}
            {state.summary.checkpointStep} · {state.slices} slice{state.slices === 1 ? '' : 's'} this session
          </Text>
        ) : (
          <Text> </Text>
        )}
      </Box>
    </Box>
  );
}

/**
 * One sample of the run's training: the newest, or the one paged to, flowed onto `rows` rows of
 * `width` cells (cut with … when longer), under a heading that says which it is.
 */
function SamplePanel({ run, samples, index, width, rows }: { run: Run; samples: NonNullable<MetricPoint['sample']>[]; index: number | null; width: number; rows: number }) {
  const i = index ?? samples.length - 1;
  const sample = samples[i];
  let heading: string;
  if (!sample) {
    const every = run.sample.every;
    heading = every === 0 ? 'Samples are off for this run (sampleEvery 0)' : `No sample yet: one comes ${every ? `every ${every} steps` : 'with each validation'}`;
  } else {
    const position = index === null ? `newest of ${samples.length}` : `${i + 1} of ${samples.length}`;
    const keys = [i > 0 ? '← earlier' : '', index !== null ? '→ later' : ''].filter(Boolean).join(' · ');
    heading = `Sample at step ${sample.step} · ${position}${keys ? ` · ${keys}` : ''}`;
  }
  const lines = sample ? wrap(flowText(sample.text), width) : [];
  const shown = lines.length > rows ? [...lines.slice(0, rows - 1), wrap(lines[rows - 1], width - 1)[0] + '…'] : lines;
  return (
    <Box flexDirection="column" height={rows + 1}>
      <Text dimColor wrap="truncate-end">
        {heading}
      </Text>
      {shown.map((line, n) => (
        <Text key={n} wrap="truncate-end">
          {'  '}
          {line}
        </Text>
      ))}
    </Box>
  );
}

/** The newest defined value of a metric (scans from the end: histories get long). */
function lastOf(points: readonly MetricPoint[], pick: (p: MetricPoint) => number | undefined): number | undefined {
  for (let i = points.length - 1; i >= 0; i--) {
    const v = pick(points[i]);
    if (typeof v === 'number') return v;
  }
  return undefined;
}

function PhaseBadge({ state }: { state: RunSessionState }) {
  switch (state.phase) {
    case 'training':
      return <Text color="green">● training{state.slices ? ` (slice ${state.slices + 1})` : ''}</Text>;
    case 'stopping':
      return <Text color="yellow">◐ stopping after this slice</Text>;
    case 'following':
      return <Text color="blue">◉ watching another client</Text>;
    case 'loading':
      return <Text dimColor>loading…</Text>;
    default:
      return <Text dimColor>{state.run?.status === 'failed' ? '✗ failed' : '○ idle'}</Text>;
  }
}

function Progress({ state, width }: { state: RunSessionState; width: number }) {
  const run = state.run!;
  const goal = state.goal;
  const active = state.phase === 'training' || state.phase === 'stopping';
  let fraction: number;
  let label: string;
  let eta: number | null = null;
  if (active && goal && goal.targetEpoch !== null) {
    const span = goal.targetEpoch - goal.startEpoch;
    const done = run.epoch - goal.startEpoch;
    fraction = span > 0 ? done / span : 1;
    const elapsed = (Date.now() - goal.startedAt) / 1000;
    eta = done > 0 ? (elapsed / done) * (span - done) : (state.progress?.etaSeconds ?? null);
    label = `epoch ${run.epoch.toFixed(2)} / ${goal.targetEpoch.toFixed(2)}`;
  } else {
    fraction = run.epoch - Math.floor(run.epoch);
    label = `epoch ${Math.floor(run.epoch) + 1} ${Math.round(fraction * 100)}%`;
    if (active) eta = state.progress?.etaSeconds ?? null;
  }
  fraction = Math.max(0, Math.min(1, fraction));
  const filled = Math.round(fraction * width);
  return (
    <Box height={1}>
      <Text wrap="truncate-end">
        <Text color="green">{'█'.repeat(filled)}</Text>
        <Text dimColor>{'░'.repeat(width - filled)}</Text> {label}
        {active ? (goal?.targetEpoch === null ? ` · until stopped · slice ETA ${fmtDuration(eta)}` : ` · ETA ${fmtDuration(eta)}`) : ''}
      </Text>
    </Box>
  );
}

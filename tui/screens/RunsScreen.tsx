// The run list: a table with status, progress, losses and a loss sparkline per run.
import { useCallback, useEffect, useRef, useState } from 'react';
import { Box, Text } from 'ink';
import type { Run } from '../api.ts';
import { useFooter, useUi } from '../context.ts';
import { useKeys } from '../hooks/useKeys.ts';
import { describeError } from '../errors.ts';
import { fit, fmtLoss, fmtParams, fmtSize } from '../format.ts';
import { sparkline } from '../chart.ts';

const REFRESH_MS = 5000;
const SPARK_WIDTH = 12;

interface Column {
  title: string;
  width: number;
  align?: 'left' | 'right';
  cell: (run: Run, trend: string) => string;
}

const COLUMNS: Column[] = [
  // NAME takes whatever width the others leave (see fitColumns).
  { title: 'NAME', width: 16, cell: (r) => (r.name === r.id ? r.id : `${r.name} (${r.id})`) },
  { title: 'CORPUS', width: 12, cell: (r) => r.corpusName },
  { title: 'SIZE', width: 7, cell: (r) => fmtSize(r) },
  { title: 'STATUS', width: 8, cell: (r) => r.status },
  { title: 'STEP', width: 7, align: 'right', cell: (r) => String(r.step) },
  { title: 'EPOCH', width: 6, align: 'right', cell: (r) => r.epoch.toFixed(2) },
  { title: 'VAL', width: 6, align: 'right', cell: (r) => fmtLoss(r.latestValLoss) },
  { title: 'BEST', width: 6, align: 'right', cell: (r) => fmtLoss(r.bestValLoss) },
  { title: 'LOSS TREND', width: SPARK_WIDTH, cell: (_r, trend) => trend },
];

/** Drop columns from the right until the table fits, then give NAME the spare width. */
function fitColumns(columns: number): Column[] {
  const total = (cols: Column[]) => cols.reduce((w, c) => w + c.width + 1, 2);
  let visible = COLUMNS;
  while (visible.length > 3 && total(visible) > columns) visible = visible.slice(0, -1);
  const spare = Math.max(0, Math.min(24, columns - total(visible) - 1));
  return [{ ...visible[0], width: visible[0].width + spare }, ...visible.slice(1)];
}

const STATUS_COLOR: Record<Run['status'], string | undefined> = { idle: undefined, training: 'green', failed: 'red' };

export function RunsScreen() {
  const ui = useUi();
  const { api, navigate, notify, active, bodyRows, columns } = ui;
  const [runs, setRuns] = useState<Run[] | null>(null);
  const [selected, setSelected] = useState(0);
  const [confirm, setConfirm] = useState<Run | null>(null);
  const [trends, setTrends] = useState<Record<string, string>>({});
  const trendSteps = useRef<Record<string, number>>({});
  const [loading, setLoading] = useState(false);

  const load = useCallback(async () => {
    setLoading(true);
    try {
      const list = await api.listRuns();
      list.sort((a, b) => b.updatedAt.localeCompare(a.updatedAt));
      setRuns(list);
      setSelected((i) => Math.min(i, Math.max(0, list.length - 1)));
      // Sparklines: fetch metrics only for runs whose step moved since last time.
      for (const run of list.slice(0, 50)) {
        if (trendSteps.current[run.id] === run.step) continue;
        trendSteps.current[run.id] = run.step;
        api.metrics(run.id).then(
          (points) => {
            // One series, not interleaved: train loss (dense), else validation.
            const train = points.map((p) => p.trainLoss).filter((v): v is number => typeof v === 'number');
            const losses = train.length ? train : points.map((p) => p.valLoss).filter((v): v is number => typeof v === 'number');
            setTrends((t) => ({ ...t, [run.id]: sparkline(losses, SPARK_WIDTH) }));
          },
          () => {},
        );
      }
    } catch (err) {
      notify(describeError(err), 'error');
    } finally {
      setLoading(false);
    }
  }, [api, notify]);

  useEffect(() => {
    void load();
    const timer = setInterval(() => void load(), REFRESH_MS);
    return () => clearInterval(timer);
  }, [load]);

  useFooter('runs', confirm ? ['yes', 'no'] : runs && runs.length ? ['move', 'open', 'new', 'delete', 'refresh'] : ['new', 'refresh']);

  // Clamp: the list can shrink under the selection (refresh, delete).
  const sel = runs && runs.length ? Math.max(0, Math.min(selected, runs.length - 1)) : 0;
  const current = runs?.[sel];
  useKeys(
    (input, key) => {
      if (confirm) {
        if (input === 'y' || input === 'Y') {
          const run = confirm;
          setConfirm(null);
          ui.sessions.forget(run.id);
          api.deleteRun(run.id).then(
            () => {
              notify(`Deleted run ${run.id}.`, 'success');
              void load();
            },
            (err) => notify(describeError(err), 'error'),
          );
        } else if (input === 'n' || input === 'N' || key.escape) {
          setConfirm(null);
          notify('Kept it.');
        }
        return;
      }
      const last = Math.max(0, (runs?.length ?? 0) - 1);
      if (key.downArrow || input === 'j') setSelected(Math.min(last, sel + 1));
      else if (key.upArrow || input === 'k') setSelected(Math.max(0, sel - 1));
      else if (input === 'g' || key.home) setSelected(0);
      else if (input === 'G' || key.end) setSelected(last);
      else if (key.pageDown) setSelected(Math.min(last, sel + 10));
      else if (key.pageUp) setSelected(Math.max(0, sel - 10));
      else if (key.return && current) navigate({ name: 'run', runId: current.id });
      else if (input === 'n') navigate({ name: 'new' });
      else if (input === 'r') {
        notify('Refreshing…');
        void load().then(() => notify(null));
      } else if (input === 'd' && current) {
        if (ui.sessions.get(current.id).busy) notify(`Stop training ${current.id} first (open it and press s).`, 'error');
        else setConfirm(current);
      }
    },
    { isActive: active },
  );

  if (runs === null) return <Text dimColor>{loading ? 'Loading runs…' : ''}</Text>;
  if (runs.length === 0) {
    return (
      <Box flexDirection="column" paddingY={1}>
        <Text>No runs yet.</Text>
        <Text>
          Press <Text bold color="cyan">n</Text> to create one (the built-in corpora are moby-dick and names).
        </Text>
      </Box>
    );
  }

  const visible = fitColumns(columns);
  // Header row, the rows, then a blank line and the selected run's details (or the confirmation).
  const listRows = Math.max(1, bodyRows - 3);
  // Scroll just enough to keep the selection visible.
  const start = Math.max(0, sel - listRows + 1);
  const row = (cells: string[]) => cells.join(' ');
  return (
    <Box flexDirection="column">
      <Text bold>{'  ' + row(visible.map((c) => fit(c.title, c.width, c.align)))}</Text>
      {runs.slice(start, start + listRows).map((run, i) => {
        const isSel = start + i === sel;
        return (
          <Text key={run.id} inverse={isSel} wrap="truncate-end">
            {isSel ? '› ' : '  '}
            {visible.map((c, j) => {
              const text = fit(c.cell(run, trends[run.id] ?? ''), c.width, c.align);
              const color = c.title === 'STATUS' ? STATUS_COLOR[run.status] : c.title === 'LOSS TREND' ? 'cyan' : undefined;
              return (
                <Text key={c.title} color={color}>
                  {text}
                  {j < visible.length - 1 ? ' ' : ''}
                </Text>
              );
            })}
          </Text>
        );
      })}
      {!confirm && current ? (
        <Box marginTop={1}>
          <RunDetails run={current} />
        </Box>
      ) : null}
      {confirm ? (
        <Box marginTop={1}>
          <Text color="yellow" bold>
            Delete run {confirm.id} with all its checkpoints and metrics? (y/N)
          </Text>
        </Box>
      ) : null}
    </Box>
  );
}

function RunDetails({ run }: { run: Run }) {
  if (run.status === 'failed' && run.error) {
    return (
      <Text color="red" wrap="truncate-end">
        {run.id} failed: {run.error}
      </Text>
    );
  }
  const updated = new Date(run.updatedAt);
  return (
    <Text dimColor wrap="truncate-end">
      {run.id} · {run.model.cell} {fmtSize(run)}
      {run.params ? ` · ${fmtParams(run.params)}` : ''} · seqLen {run.train.seqLen} · batch {run.train.batchSize} · lr {run.train.lr}
      {' · updated '}
      {Number.isNaN(updated.getTime()) ? run.updatedAt : updated.toLocaleString('en-GB', { dateStyle: 'medium', timeStyle: 'short' })}
    </Text>
  );
}

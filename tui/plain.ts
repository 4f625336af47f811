// What charrnn-tui does when stdout is not a terminal: plain lines, no drawing, an exit code.
//   (no flags)                  list runs
//   --run ID                    show one run
//   --run ID --train-seconds N  train about N seconds in bounded slices (functions/client/slice-chain.ts), one progress line a second
//                               and each sample the trainer writes
//   --run ID --sample LENGTH    stream a generated sample to stdout
import { trainSlices } from '../functions/client/slice-chain.ts';
import { Api, type Run, type TrainBody, type TrainProgress } from './api.ts';
import { fit, flowText, fmtDuration, fmtLoss, fmtRate, fmtSize } from './format.ts';

export interface PlainOptions {
  run?: string;
  trainSeconds?: number;
  sample?: number;
  sliceSeconds: number;
  out: (line: string) => void;
  write: (text: string) => void;
  signal?: AbortSignal;
}

export async function runPlain(api: Api, opts: PlainOptions): Promise<number> {
  const { out } = opts;
  if (!opts.run) {
    if (opts.trainSeconds !== undefined || opts.sample !== undefined) {
      out('error: --train-seconds and --sample need --run ID');
      return 2;
    }
    const runs = await api.listRuns();
    if (runs.length === 0) out('no runs yet (create one in a terminal: charrnn-tui, then n)');
    else {
      out(`${fit('ID', 24)} ${fit('CORPUS', 14)} ${fit('SIZE', 8)} ${fit('STATUS', 9)} ${fit('STEP', 8, 'right')} ${fit('EPOCH', 7, 'right')} ${fit('VAL', 7, 'right')} ${fit('BEST', 7, 'right')}`);
      for (const r of runs) out(runLine(r));
    }
    out('stdout is not a terminal: printed the run list. Use --run ID [--train-seconds N | --sample LENGTH].');
    return 0;
  }
  const id = opts.run;
  if (opts.trainSeconds !== undefined) return trainPlain(api, id, opts.trainSeconds, opts);
  if (opts.sample !== undefined) {
    for await (const ev of api.sampleStream(id, { length: opts.sample }, opts.signal)) {
      if (ev.type === 'text') opts.write(ev.text);
    }
    opts.write('\n');
    return 0;
  }
  const run = await api.getRun(id);
  out(runLine(run));
  return 0;
}

async function trainPlain(api: Api, id: string, seconds: number, opts: PlainOptions): Promise<number> {
  const { out } = opts;
  let lastLine = 0;
  const line = (p: TrainProgress) =>
    `step ${p.step} epoch ${p.epoch.toFixed(3)} train ${fmtLoss(p.trainLoss)} val ${fmtLoss(p.valLoss)} ${fmtRate(p.charsPerSec)} chars/s eta ${fmtDuration(p.etaSeconds)} backend ${p.backend}`;
  const runSlice = (body: TrainBody, signal: AbortSignal) => api.trainStream(id, body, signal);
  const budget = { seconds, sliceSeconds: opts.sliceSeconds };
  for await (const ev of trainSlices(runSlice, budget, opts.signal ? { signal: opts.signal } : {})) {
    if (ev.type === 'progress') {
      // One line a second, plus every validation result.
      if (Date.now() - lastLine >= 1000 || ev.data.valLoss !== undefined || ev.data.sample) {
        out(line(ev.data));
        lastLine = Date.now();
      }
      // A sample is one line too: its line breaks shown as ↵.
      if (ev.data.sample) out(`sample at step ${ev.data.sample.step}: ${flowText(ev.data.sample.text)}`);
    } else if (ev.type === 'done') {
      const s = ev.data;
      out(
        `slice done: ${s.steps} steps in ${s.seconds.toFixed(1)}s, step ${s.step} epoch ${s.epoch.toFixed(3)} val ${fmtLoss(s.valLoss)} best ${fmtLoss(s.bestValLoss)} (${s.stopReason}, checkpoint at step ${s.checkpointStep})`,
      );
    } else if (ev.type === 'retry') {
      out(`${ev.error.message}; retrying in ${ev.waitMs / 1000}s (${ev.attempt}/${ev.attempts})`);
    } else {
      if (ev.reason === 'stalled') out('no progress in three slices in a row: the server is too busy for this slice length');
      return ev.reason === 'diverged' || ev.reason === 'stalled' ? 1 : 0;
    }
  }
  return 0;
}

function runLine(r: Run): string {
  return `${fit(r.id, 24)} ${fit(r.corpusName, 14)} ${fit(fmtSize(r), 8)} ${fit(r.status, 9)} ${fit(String(r.step), 8, 'right')} ${fit(r.epoch.toFixed(2), 7, 'right')} ${fit(fmtLoss(r.latestValLoss), 7, 'right')} ${fit(fmtLoss(r.bestValLoss), 7, 'right')}`;
}

// Bench/load output: a compact human table, or one JSON object per line (--json). Rows are printed
// as they are measured, so a long run shows progress.
import { cpus, loadavg, totalmem } from 'node:os';
import { readFileSync } from 'node:fs';

export interface Row {
  bench: string;
  config: string;
  backend: string;
  /** Machine-readable figures (JSON output). */
  figures: Record<string, number | string | boolean | null>;
  /** One human line of the same figures. */
  text: string;
}

export class Report {
  readonly rows: Row[] = [];
  private headerShown = false;

  constructor(private readonly json: boolean) {}

  add(row: Row): void {
    this.rows.push(row);
    if (this.json) {
      process.stdout.write(JSON.stringify({ bench: row.bench, config: row.config, backend: row.backend, ...row.figures }) + '\n');
      return;
    }
    if (!this.headerShown) {
      process.stdout.write(`${'bench'.padEnd(9)} ${'config'.padEnd(7)} ${'backend'.padEnd(9)} figures\n`);
      this.headerShown = true;
    }
    process.stdout.write(`${row.bench.padEnd(9)} ${row.config.padEnd(7)} ${row.backend.padEnd(9)} ${row.text}\n`);
  }

  /** A line that is not a result (skips, notes): stderr in JSON mode so stdout stays JSON lines. */
  note(msg: string): void {
    (this.json ? process.stderr : process.stdout).write(`# ${msg}\n`);
  }
}

/** What the numbers were measured on. */
export function machineInfo(): { cpu: string; nproc: number; simd: string; memGiB: number; node: string; load1m: number } {
  let flags = '';
  try {
    const info = readFileSync('/proc/cpuinfo', 'utf8');
    const f = /^flags\s*:\s*(.*)$/m.exec(info)?.[1].split(/\s+/) ?? [];
    flags = ['avx2', 'fma', 'avx512f'].filter((x) => f.includes(x)).join(' ');
  } catch {
    // not Linux: leave empty
  }
  return {
    cpu: cpus()[0]?.model.trim() ?? 'unknown',
    nproc: cpus().length,
    simd: flags,
    memGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    load1m: Math.round(loadavg()[0] * 100) / 100,
  };
}

export const fmtInt = (n: number): string => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '-');
export const fmtMs = (n: number): string => (Number.isFinite(n) ? (n >= 100 ? `${Math.round(n)} ms` : `${n.toFixed(1)} ms`) : '-');

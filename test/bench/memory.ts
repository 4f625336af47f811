// Peak resident set size of this process over a stretch of work (Linux): the kernel's high-water
// mark (VmHWM), reset before the work (writing 5 to /proc/self/clear_refs). Elsewhere, or where the
// reset is refused, the peak since the process started (process.resourceUsage().maxRSS).
import { readFileSync, writeFileSync } from 'node:fs';

/** Starts a measurement; true when the peak now counts from here (else from the process start). */
export function resetPeakRss(): boolean {
  try {
    writeFileSync('/proc/self/clear_refs', '5');
    return true;
  } catch {
    return false;
  }
}

/** Peak RSS in MiB since resetPeakRss() (or the process start). */
export function peakRssMiB(): number {
  try {
    const kb = /^VmHWM:\s+(\d+)\s+kB/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1];
    if (kb) return Number(kb) / 1024;
  } catch {
    // not Linux
  }
  return process.resourceUsage().maxRSS / 1024;
}

// The `best` invariant, checked on the store itself: best.json points at a complete checkpoint, its
// loss is the lowest of every committed checkpoint and of every validation the metrics recorded
// (so each improving validation was committed), and run.json mirrors it.
import { expect } from 'vitest';
import { openRunStore } from '../../shared/store/index.ts';

export interface BestFacts {
  step: number;
  valLoss: number;
  /** Steps of the run's committed checkpoints (after retention). */
  checkpoints: number[];
}

export async function expectBestIsMinimum(storeUrl: string, runId: string): Promise<BestFacts> {
  const store = openRunStore(storeUrl);
  const [run, pointer, committed, points] = await Promise.all([
    store.getRun(runId),
    store.readPointer(runId, 'best'),
    store.listCheckpoints(runId),
    store.readMetrics(runId),
  ]);
  expect(pointer, `run ${runId} has no best.json`).not.toBeNull();
  const best = pointer!;
  expect(best.valLoss).toEqual(expect.any(Number));
  const loaded = await store.loadCheckpoint(runId, 'best');
  expect(loaded?.step).toBe(best.step);
  expect(Object.keys(loaded!.files).sort()).toEqual(['model.json', 'optimizer.bin', 'state.json', 'weights.bin']);
  expect(committed.some((p) => p.step === best.step)).toBe(true);

  const committedLosses = committed.map((p) => p.valLoss).filter((v): v is number => v !== null);
  expect(best.valLoss).toBe(Math.min(...committedLosses));
  const measured = points.map((p) => p.valLoss).filter((v): v is number => v !== undefined);
  expect(measured.length).toBeGreaterThan(0);
  expect(best.valLoss).toBe(Math.min(...measured));
  expect(run?.bestValLoss).toBe(best.valLoss);
  return { step: best.step, valLoss: best.valLoss!, checkpoints: committed.map((p) => p.step) };
}

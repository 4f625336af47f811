// Runs, corpora, checkpoints, metrics and leases, written once on top of any ObjectStore.
// The layout of the objects it writes is one table: shared/store/README.md, "Layout".
import { createHash, randomBytes } from 'node:crypto';
import type { MetricPoint } from '../run-types.ts';
import { validateFeedKey, validateId, validateKey, validateSegmentName } from './keys.ts';
import {
  InvalidKeyError,
  LeaseConflictError,
  PreconditionFailedError,
  RunExistsError,
  RunNotFoundError,
  StoreConfigError,
  StoreUnavailableError,
  type CheckpointPointer,
  type CheckpointRef,
  type CorpusVersion,
  type Lease,
  type ObjectStore,
  type RunRecord,
} from './types.ts';

export interface RunStoreOptions {
  /** Newest complete checkpoints kept (plus whatever `latest` and `best` point at). Default 3 (the caller's CHARRNN_KEEP_CHECKPOINTS). */
  keepCheckpoints?: number;
  /** Clock for leases (ms since the epoch); tests pass a fake one. */
  now?: () => number;
}

export interface LoadedCheckpoint {
  step: number;
  /** File name (e.g. 'weights.bin') → bytes. */
  files: Record<string, Uint8Array>;
  pointer: CheckpointPointer;
}

interface CheckpointDir {
  /** 'checkpoints/<step>' or 'checkpoints/<step>-<random>' (relative to the run). */
  dir: string;
  step: number;
  complete: boolean;
  keys: string[];
}

/** The checkpoint directory a pointer's files live in (relative to the run). */
function pointerDir(p: CheckpointPointer): string {
  const first = p.files[0] ?? '';
  return first.slice(0, first.lastIndexOf('/'));
}

const byStepThenCommit = (a: CheckpointPointer, b: CheckpointPointer) => a.step - b.step || a.committedAt.localeCompare(b.committedAt);

export type RunPatch = Partial<Omit<RunRecord, 'id' | 'createdAt'>>;

const MAX_STEP = 9_999_999_999; // 10 digits
const MANIFEST = 'checkpoint.json';
const UPDATE_RETRIES = 10;

/**
 * A metrics segment name that sorts after every earlier one from this clock: t<ms, 15 digits>-<random>.
 * A training slice passes `from` (the checkpoint step it resumed from and its own random tag):
 * t<ms>-b<step, 10 digits>-<slice>. readMetrics uses that to drop points a crashed slice wrote
 * past its last checkpoint once a later slice has re-trained those steps (see supersededAfter).
 */
export function newMetricsSegment(now = Date.now(), from?: { baseStep: number; slice: string }): string {
  const t = `t${String(Math.floor(now)).padStart(15, '0')}`;
  if (!from) return `${t}-${randomBytes(4).toString('hex')}`;
  if (!/^[0-9a-f]{1,16}$/.test(from.slice)) throw new InvalidKeyError(`slice tag must be 1-16 lowercase hex digits, got ${JSON.stringify(from.slice)}`);
  return `${t}-b${stepDir(from.baseStep)}-${from.slice}`;
}

const TAGGED_SEGMENT = /\/t(\d{15})-b(\d{10})-([0-9a-f]{1,16})\.jsonl$/;

/**
 * Per metrics key, the step after which its points were superseded (Infinity: none were).
 * A slice X that resumed from step bX writes its points before committing each checkpoint, so
 * after a crash it may have points past its last checkpoint. A later slice Y (another tag, first
 * written later) that resumed from bY >= bX re-trained every step after bY: X's points past bY
 * are from a timeline that no checkpoint kept. Clock skew between instances only matters for
 * two slices resuming from the same step, which can't overlap in time by more than a lease TTL.
 */
function supersededAfter(keys: readonly string[]): Map<string, number> {
  const slices = new Map<string, { base: number; first: number }>();
  const tagOf = new Map<string, string>();
  for (const key of keys) {
    const m = TAGGED_SEGMENT.exec(key);
    if (!m) continue;
    const [, time, base, slice] = m;
    tagOf.set(key, slice);
    const s = slices.get(slice);
    if (!s) slices.set(slice, { base: Number(base), first: Number(time) });
    else s.first = Math.min(s.first, Number(time));
  }
  const cut = new Map<string, number>();
  for (const [slice, x] of slices) {
    let c = Infinity;
    for (const [other, y] of slices) if (other !== slice && y.first > x.first && y.base >= x.base) c = Math.min(c, y.base);
    cut.set(slice, c);
  }
  return new Map(keys.map((key) => [key, tagOf.has(key) ? cut.get(tagOf.get(key)!)! : Infinity]));
}

function checkTtl(ttlMs: number): void {
  if (!(Number.isFinite(ttlMs) && ttlMs > 0)) throw new RangeError(`lease ttlMs must be a positive number of milliseconds, got ${ttlMs}`);
}

function stepDir(step: number): string {
  if (!Number.isSafeInteger(step) || step < 0 || step > MAX_STEP) throw new InvalidKeyError(`checkpoint step must be an integer from 0 to ${MAX_STEP}, got ${step}`);
  return String(step).padStart(10, '0');
}

const json = (value: unknown) => JSON.stringify(value, null, 2) + '\n';
const decoder = new TextDecoder();
const parse = <T>(body: Uint8Array): T => JSON.parse(decoder.decode(body)) as T;

/** Runs fn over items with at most `limit` in flight, keeping order. */
async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

export class RunStore {
  readonly keepCheckpoints: number;
  private readonly now: () => number;

  constructor(readonly objects: ObjectStore, opts: RunStoreOptions = {}) {
    this.keepCheckpoints = opts.keepCheckpoints ?? 3;
    if (!Number.isInteger(this.keepCheckpoints) || this.keepCheckpoints < 1) throw new StoreConfigError(`keepCheckpoints must be a positive integer, got ${this.keepCheckpoints}`);
    this.now = opts.now ?? Date.now;
  }

  get url(): string {
    return this.objects.url;
  }

  // ---- runs ----

  async createRun(rec: RunRecord): Promise<RunRecord> {
    try {
      await this.objects.put(this.runKey(rec.id, 'run.json'), json(rec), { ifNoneMatch: '*', contentType: 'application/json' });
    } catch (err) {
      if (err instanceof PreconditionFailedError) throw new RunExistsError(rec.id);
      throw err;
    }
    return rec;
  }

  async getRun(id: string): Promise<RunRecord | null> {
    const got = await this.objects.get(this.runKey(id, 'run.json'));
    return got && parse<RunRecord>(got.body);
  }

  /** Read-modify-write with ifMatch, retried when another writer got in between. */
  async updateRun(id: string, patch: RunPatch): Promise<RunRecord> {
    const key = this.runKey(id, 'run.json');
    for (let attempt = 0; ; attempt++) {
      const got = await this.objects.get(key);
      if (!got) throw new RunNotFoundError(id);
      const current = parse<RunRecord>(got.body);
      const next: RunRecord = { ...current, ...patch, id: current.id, createdAt: current.createdAt, updatedAt: patch.updatedAt ?? new Date(this.now()).toISOString() };
      try {
        await this.objects.put(key, json(next), { ifMatch: got.etag, contentType: 'application/json' });
        return next;
      } catch (err) {
        if (!(err instanceof PreconditionFailedError) || attempt >= UPDATE_RETRIES) throw err;
      }
    }
  }

  /** Every run, in id order. */
  async listRuns(): Promise<RunRecord[]> {
    let ids: string[];
    if (this.objects.listChildren) {
      // One level only: S3 answers with common prefixes instead of every checkpoint and metrics object.
      ids = await this.objects.listChildren('runs/');
    } else {
      ids = [...new Set((await this.keys('runs/')).map((key) => key.split('/')[1]))];
    }
    const runs = await mapLimit(ids, 8, async (id) => {
      try {
        validateId(id);
      } catch {
        return null; // not something RunStore wrote
      }
      return this.getRun(id);
    });
    return runs.filter((run): run is RunRecord => run !== null);
  }

  /** Deletes everything under the run, run.json last (a half-deleted run stays listed and can be deleted again). False if it did not exist. */
  async deleteRun(id: string): Promise<boolean> {
    const runJson = this.runKey(id, 'run.json');
    const keys = (await this.keys(this.runKey(id, ''))).filter((key) => key !== runJson);
    await mapLimit(keys, 16, (key) => this.objects.delete(key));
    const existed = (await this.objects.head(runJson)) !== null;
    await this.objects.delete(runJson);
    return existed || keys.length > 0;
  }

  // ---- corpora ----

  async putCorpus(bytes: Uint8Array | string): Promise<{ ref: string; bytes: number }> {
    const data = typeof bytes === 'string' ? Buffer.from(bytes, 'utf8') : bytes;
    const hex = createHash('sha256').update(data).digest('hex');
    try {
      await this.objects.put(`corpora/${hex}.txt`, data, { ifNoneMatch: '*', contentType: 'text/plain; charset=utf-8' });
    } catch (err) {
      if (!(err instanceof PreconditionFailedError)) throw err; // already stored: same content by construction
    }
    return { ref: `sha256:${hex}`, bytes: data.byteLength };
  }

  /** The corpus bytes, or null if no such upload. `ref` is 'sha256:<64 hex>'. */
  async getCorpus(ref: string): Promise<Uint8Array | null> {
    const m = /^sha256:([0-9a-f]{64})$/.exec(ref);
    if (!m) throw new InvalidKeyError(`corpus ref must be 'sha256:' followed by 64 lowercase hex digits, got ${JSON.stringify(ref.slice(0, 80))}`);
    const got = await this.objects.get(`corpora/${m[1]}.txt`);
    if (!got) return null;
    if (createHash('sha256').update(got.body).digest('hex') !== m[1]) throw new StoreUnavailableError(`corpus ${ref} in ${this.url} is corrupt (content hash differs)`);
    return got.body;
  }

  // ---- feeds ----

  /** A feed object's bytes and version, or null if nothing is at `key` ('feeds/<name>.txt'). */
  async getFeed(key: string): Promise<{ body: Uint8Array; version: CorpusVersion } | null> {
    validateFeedKey(key);
    const got = await this.objects.get(key);
    if (!got) return null;
    const sha256 = `sha256:${createHash('sha256').update(got.body).digest('hex')}`;
    return { body: got.body, version: { sha256, etag: got.etag, bytes: got.body.byteLength } };
  }

  /** Publishes a new version of a feed (replacing the old one). */
  async putFeed(key: string, bytes: Uint8Array | string): Promise<CorpusVersion> {
    validateFeedKey(key);
    const data = typeof bytes === 'string' ? Buffer.from(bytes, 'utf8') : bytes;
    const { etag } = await this.objects.put(key, data, { contentType: 'text/plain; charset=utf-8' });
    return { sha256: `sha256:${createHash('sha256').update(data).digest('hex')}`, etag, bytes: data.byteLength };
  }

  // ---- checkpoints ----

  /**
   * Commit protocol: every file, then the checkpoint's manifest, then best.json (if valLoss
   * beats the current best), then latest.json LAST. A crash anywhere leaves latest on a complete
   * checkpoint. Then run.json's step/epoch/losses are updated, and retention deletes checkpoints
   * beyond the newest K, never one that latest or best points at.
   */
  async saveCheckpoint(
    id: string,
    step: number,
    files: Record<string, Uint8Array>,
    info: { valLoss: number | null; epoch: number },
  ): Promise<CheckpointPointer> {
    const base = `checkpoints/${stepDir(step)}`;
    const names = Object.keys(files);
    if (names.length === 0) throw new InvalidKeyError('a checkpoint needs at least one file');
    for (const name of names) {
      if (name.includes('/') || name === MANIFEST) throw new InvalidKeyError(`checkpoint file name ${JSON.stringify(name)} must be a single segment other than ${MANIFEST}`);
      validateKey(name);
    }
    if (!(await this.getRun(id))) throw new RunNotFoundError(id);

    // Reuse checkpoints/<step>/ unless latest or best points into it (a re-save of the same step,
    // e.g. after a rewind): overwriting that would break "latest is always complete", so such a
    // save goes to checkpoints/<step>-<random>/ instead. Unreferenced leftovers are cleared first.
    const [latestBefore, bestBefore] = await Promise.all([this.readPointer(id, 'latest'), this.readPointer(id, 'best')]);
    const referenced = new Set([latestBefore, bestBefore].filter((p) => p !== null).map((p) => pointerDir(p!)));
    let dir = base;
    for (const d of (await this.checkpointDirs(id)).filter((d) => d.step === step)) {
      if (referenced.has(d.dir)) {
        if (d.dir === base) dir = `${base}-${randomBytes(4).toString('hex')}`;
      } else if (d.dir === base) {
        await this.deleteCheckpointDir(d.keys);
      }
    }

    await Promise.all(names.map((name) => this.objects.put(this.runKey(id, `${dir}/${name}`), files[name])));
    const pointer: CheckpointPointer = {
      step,
      valLoss: info.valLoss,
      files: names.map((name) => `${dir}/${name}`),
      committedAt: new Date(this.now()).toISOString(),
      epoch: info.epoch,
    };
    await this.objects.put(this.runKey(id, `${dir}/${MANIFEST}`), json(pointer), { contentType: 'application/json' });

    let best = bestBefore;
    if (info.valLoss !== null && Number.isFinite(info.valLoss) && (best === null || best.valLoss === null || info.valLoss < best.valLoss)) {
      await this.objects.put(this.runKey(id, 'best.json'), json(pointer), { contentType: 'application/json' });
      best = pointer;
    }
    await this.objects.put(this.runKey(id, 'latest.json'), json(pointer), { contentType: 'application/json' });

    await this.updateRun(id, { step, epoch: info.epoch, latestValLoss: info.valLoss, bestValLoss: best?.valLoss ?? null });
    await this.prune(id, pointer, best);
    return pointer;
  }

  /**
   * Points best.json at a committed checkpoint (its manifest must exist), with `valLoss` as
   * measured by the caller (a retrain re-measures on the current validation split), and mirrors
   * that loss into run.json's bestValLoss.
   */
  async setBest(id: string, pointer: CheckpointPointer): Promise<void> {
    const dir = pointerDir(pointer);
    if (!(await this.objects.head(this.runKey(id, `${dir}/${MANIFEST}`)))) {
      throw new InvalidKeyError(`checkpoint ${pointer.step} of run ${id} is not a complete checkpoint`);
    }
    await this.objects.put(this.runKey(id, 'best.json'), json(pointer), { contentType: 'application/json' });
    await this.updateRun(id, { bestValLoss: pointer.valLoss });
  }

  /**
   * The checkpoint `ref` points at (or the complete checkpoint at that step), or null if there is
   * none. If retention deletes the files under a slow reader (the pointer moved on K saves in
   * between), the pointer is read again and the load retried.
   */
  async loadCheckpoint(id: string, ref: CheckpointRef): Promise<LoadedCheckpoint | null> {
    for (let attempt = 0; ; attempt++) {
      const pointer = typeof ref === 'number' ? await this.readManifest(id, ref) : await this.readPointer(id, ref);
      if (!pointer) return null;
      const bodies = await mapLimit(pointer.files, 4, async (rel) => (await this.objects.get(this.runKey(id, rel)))?.body ?? null);
      const missing = pointer.files.filter((_, i) => bodies[i] === null);
      if (missing.length === 0) {
        const files: Record<string, Uint8Array> = {};
        pointer.files.forEach((rel, i) => (files[rel.slice(rel.lastIndexOf('/') + 1)] = bodies[i]!));
        return { step: pointer.step, files, pointer };
      }
      if (attempt >= 2) throw new StoreUnavailableError(`checkpoint ${pointer.step} of run ${id} in ${this.url} is missing ${missing.join(', ')}`);
    }
  }

  /** Complete checkpoints (those whose manifest was written), by step ascending. */
  async listCheckpoints(id: string): Promise<CheckpointPointer[]> {
    const dirs = (await this.checkpointDirs(id)).filter((d) => d.complete);
    const pointers = await mapLimit(dirs, 8, (d) => this.readJson<CheckpointPointer>(this.runKey(id, `${d.dir}/${MANIFEST}`)));
    return pointers.filter((p): p is CheckpointPointer => p !== null).sort(byStepThenCommit);
  }

  async readPointer(id: string, which: 'latest' | 'best'): Promise<CheckpointPointer | null> {
    return this.readJson<CheckpointPointer>(this.runKey(id, `${which}.json`));
  }

  /** The complete checkpoint at `step` (the newest if a step was saved twice), or null. */
  private async readManifest(id: string, step: number): Promise<CheckpointPointer | null> {
    stepDir(step);
    const all = await this.listCheckpoints(id);
    return all.filter((p) => p.step === step).at(-1) ?? null;
  }

  private async readJson<T>(key: string): Promise<T | null> {
    const got = await this.objects.get(key);
    return got && parse<T>(got.body);
  }

  /** Step directories under checkpoints/, complete or not (a crash can leave files without a manifest), by step. */
  private async checkpointDirs(id: string): Promise<CheckpointDir[]> {
    const prefix = this.runKey(id, 'checkpoints/');
    const byDir = new Map<string, CheckpointDir>();
    for (const key of await this.keys(prefix)) {
      const m = /^((\d{10})(?:-[0-9a-f]+)?)\/(.+)$/.exec(key.slice(prefix.length));
      if (!m) continue;
      const dir = `checkpoints/${m[1]}`;
      const entry = byDir.get(dir) ?? { dir, step: Number(m[2]), complete: false, keys: [] };
      entry.keys.push(key);
      if (m[3] === MANIFEST) entry.complete = true;
      byDir.set(dir, entry);
    }
    return [...byDir.values()].sort((a, b) => a.step - b.step);
  }

  /** Keeps the newest K complete checkpoints plus latest's and best's; deletes every other checkpoint directory (incomplete ones included). */
  private async prune(id: string, latest: CheckpointPointer, best: CheckpointPointer | null): Promise<void> {
    const dirs = await this.checkpointDirs(id);
    const keep = new Set(dirs.filter((d) => d.complete).slice(-this.keepCheckpoints).map((d) => d.dir));
    keep.add(pointerDir(latest));
    if (best) keep.add(pointerDir(best));
    for (const d of dirs) if (!keep.has(d.dir)) await this.deleteCheckpointDir(d.keys);
  }

  /** Manifest first: a half-deleted checkpoint then reads as incomplete, never as loadable. */
  private async deleteCheckpointDir(keys: string[]): Promise<void> {
    const manifest = keys.filter((k) => k.endsWith(`/${MANIFEST}`));
    await Promise.all(manifest.map((k) => this.objects.delete(k)));
    await Promise.all(keys.filter((k) => !manifest.includes(k)).map((k) => this.objects.delete(k)));
  }

  // ---- metrics ----

  /** Writes `points` as a new object runs/<id>/metrics/<segment>.jsonl (create-only). Use newMetricsSegment() for names that sort in write order. */
  async appendMetrics(id: string, segment: string, points: readonly MetricPoint[]): Promise<void> {
    validateSegmentName(segment, 'metrics segment');
    if (points.length === 0) return;
    const body = points.map((p) => JSON.stringify(p)).join('\n') + '\n';
    await this.objects.put(this.runKey(id, `metrics/${segment}.jsonl`), body, { ifNoneMatch: '*', contentType: 'application/x-ndjson' });
  }

  /** All metric points of the run as one series ordered by step, then time (minus those a crashed slice wrote past its last checkpoint and a later slice re-trained); optionally only those after a step or time. */
  async readMetrics(id: string, opts: { afterStep?: number; afterTime?: number } = {}): Promise<MetricPoint[]> {
    const keys = (await this.keys(this.runKey(id, 'metrics/'))).filter((key) => key.endsWith('.jsonl'));
    const bodies = await mapLimit(keys, 16, async (key) => (await this.objects.get(key))?.body ?? null);
    const superseded = supersededAfter(keys);
    const points: MetricPoint[] = [];
    for (const [i, body] of bodies.entries()) {
      if (!body) continue;
      const cut = superseded.get(keys[i]) ?? Infinity;
      for (const line of decoder.decode(body).split('\n')) {
        if (line.trim() === '') continue;
        const p = JSON.parse(line) as MetricPoint;
        if (p.step > cut) continue;
        if (opts.afterStep !== undefined && !(p.step > opts.afterStep)) continue;
        if (opts.afterTime !== undefined && !(p.time > opts.afterTime)) continue;
        points.push(p);
      }
    }
    return points.sort((a, b) => a.step - b.step || a.time - b.time);
  }

  // ---- leases ----

  /** Takes the run's lease: creates lease.json, or takes over an expired one. A live lease → LeaseConflictError. */
  async acquireLease(id: string, holder: string, ttlMs: number): Promise<Lease> {
    const key = this.runKey(id, 'lease.json');
    checkTtl(ttlMs);
    for (let attempt = 0; attempt < 5; attempt++) {
      const expiresAt = this.now() + ttlMs;
      const body = json({ runId: id, holder, expiresAt });
      try {
        const { etag } = await this.objects.put(key, body, { ifNoneMatch: '*', contentType: 'application/json' });
        return { runId: id, holder, expiresAt, etag };
      } catch (err) {
        if (!(err instanceof PreconditionFailedError)) throw err;
      }
      const current = await this.readLease(id);
      if (!current) continue; // released in between: try to create again
      if (current.expiresAt > this.now()) throw new LeaseConflictError(id, current.holder, current.expiresAt);
      try {
        const { etag } = await this.objects.put(key, body, { ifMatch: current.etag, contentType: 'application/json' });
        return { runId: id, holder, expiresAt, etag };
      } catch (err) {
        if (!(err instanceof PreconditionFailedError)) throw err; // another taker won: look again
      }
    }
    const current = await this.readLease(id);
    throw new LeaseConflictError(id, current?.holder ?? 'another worker', current?.expiresAt ?? this.now());
  }

  /** Extends a held lease. PreconditionFailedError if it was taken over or released meanwhile. */
  async renewLease(lease: Lease, ttlMs: number): Promise<Lease> {
    checkTtl(ttlMs);
    const expiresAt = this.now() + ttlMs;
    const body = json({ runId: lease.runId, holder: lease.holder, expiresAt });
    const { etag } = await this.objects.put(this.runKey(lease.runId, 'lease.json'), body, { ifMatch: lease.etag, contentType: 'application/json' });
    return { ...lease, expiresAt, etag };
  }

  /** Deletes lease.json if it is still this lease; PreconditionFailedError if it was lost. */
  async releaseLease(lease: Lease): Promise<void> {
    await this.objects.delete(this.runKey(lease.runId, 'lease.json'), { ifMatch: lease.etag });
  }

  /** The current lease (possibly expired), or null. An unreadable lease.json reads as expired. */
  async readLease(id: string): Promise<Lease | null> {
    const got = await this.objects.get(this.runKey(id, 'lease.json'));
    if (!got) return null;
    try {
      const { holder, expiresAt } = parse<{ holder: string; expiresAt: number }>(got.body);
      return { runId: id, holder: String(holder), expiresAt: Number(expiresAt) || 0, etag: got.etag };
    } catch {
      return { runId: id, holder: 'unknown', expiresAt: 0, etag: got.etag };
    }
  }

  // ---- keys ----

  private runKey(id: string, rest: string): string {
    validateId(id);
    return `runs/${id}/${rest}`;
  }

  private async keys(prefix: string): Promise<string[]> {
    if (this.objects.listKeys) return this.objects.listKeys(prefix);
    return (await this.objects.list(prefix)).map((info) => info.key);
  }
}

// Where retrain ticks leave their traces, beside the run so deleting the run deletes them:
//   runs/<id>/retrains/<report id>.json             one RetrainReport per tick (ids sort by start time)
//   runs/<id>/retrains/keys/<sha256 of key>.json    Idempotency-Key → { state, reportId }
import { createHash, randomBytes } from 'node:crypto';
import { RetrainReport } from '../../shared/api/schemas.ts';
import { PreconditionFailedError, validateId, type RunStore } from '../../shared/store/index.ts';

export interface KeyRecord {
  key: string;
  /** running: a tick holds the run's lease for this key; done: reportId is its answer. */
  state: 'running' | 'done';
  reportId?: string;
  startedAt: string;
}

const REPORT_NAME = /^(\d{8}T\d{9}Z-[0-9a-f]{8})\.json$/;
const json = (v: unknown) => JSON.stringify(v, null, 2) + '\n';
const decoder = new TextDecoder();

/** A report id that sorts by time: 20261127T094423123Z-1a2b3c4d. */
export function newReportId(now: number): string {
  return `${new Date(now).toISOString().replace(/[-:.]/g, '')}-${randomBytes(4).toString('hex')}`;
}

export class RetrainRecords {
  constructor(private readonly store: RunStore) {}

  private base(runId: string): string {
    validateId(runId);
    return `runs/${runId}/retrains/`;
  }

  private keyPath(runId: string, key: string): string {
    return `${this.base(runId)}keys/${createHash('sha256').update(key, 'utf8').digest('hex')}.json`;
  }

  async saveReport(report: RetrainReport): Promise<void> {
    await this.store.objects.put(`${this.base(report.runId)}${report.id}.json`, json(report), { ifNoneMatch: '*', contentType: 'application/json' });
  }

  async getReport(runId: string, reportId: string): Promise<RetrainReport | null> {
    if (!REPORT_NAME.test(`${reportId}.json`)) return null;
    const got = await this.store.objects.get(`${this.base(runId)}${reportId}.json`);
    if (!got) return null;
    // A report this version cannot read (written by hand, or by a later format) is skipped, not fatal.
    let value: unknown;
    try {
      value = JSON.parse(decoder.decode(got.body));
    } catch {
      return null;
    }
    const parsed = RetrainReport.safeParse(value);
    return parsed.success ? parsed.data : null;
  }

  /** The run's reports, newest first (at most `limit`). */
  async listReports(runId: string, limit: number): Promise<RetrainReport[]> {
    const prefix = this.base(runId);
    const keys = this.store.objects.listKeys ? await this.store.objects.listKeys(prefix) : (await this.store.objects.list(prefix)).map((o) => o.key);
    const ids = keys
      .map((k) => REPORT_NAME.exec(k.slice(prefix.length))?.[1])
      .filter((id): id is string => !!id)
      .sort()
      .reverse()
      .slice(0, limit);
    const reports = await Promise.all(ids.map((id) => this.getReport(runId, id)));
    return reports.filter((r): r is RetrainReport => r !== null);
  }

  async readKey(runId: string, key: string): Promise<{ record: KeyRecord; etag: string } | null> {
    const got = await this.store.objects.get(this.keyPath(runId, key));
    if (!got) return null;
    return { record: JSON.parse(decoder.decode(got.body)) as KeyRecord, etag: got.etag };
  }

  /** Marks the key as running: create-only, or replacing the stale record `etag` names. False if another request got there first. */
  async claimKey(runId: string, record: KeyRecord, etag?: string): Promise<boolean> {
    try {
      await this.store.objects.put(this.keyPath(runId, record.key), json(record), etag ? { ifMatch: etag, contentType: 'application/json' } : { ifNoneMatch: '*', contentType: 'application/json' });
      return true;
    } catch (e) {
      if (e instanceof PreconditionFailedError) return false;
      throw e;
    }
  }

  async finishKey(runId: string, key: string, reportId: string, startedAt: string): Promise<void> {
    const record: KeyRecord = { key, state: 'done', reportId, startedAt };
    await this.store.objects.put(this.keyPath(runId, key), json(record), { contentType: 'application/json' });
  }

  /** Forget a key whose tick failed, so the scheduler's retry runs it again. */
  async releaseKey(runId: string, key: string): Promise<void> {
    await this.store.objects.delete(this.keyPath(runId, key));
  }
}

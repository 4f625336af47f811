// An ObjectStore wrapper that "crashes" on a chosen put: that put and every operation after it
// throw InjectedCrash until heal(), as if the process died there. Used to test commit protocols
// without test-only branches in product code.
import type { ObjectInfo, ObjectStore, PutOptions } from '../../shared/store/types.ts';

export class InjectedCrash extends Error {
  constructor(readonly op: string, readonly key: string) {
    super(`injected crash at ${op} ${key}`);
    this.name = 'InjectedCrash';
  }
}

export class FaultyObjectStore implements ObjectStore {
  /** Keys of successful puts, in call order. */
  readonly putKeys: string[] = [];
  private putCalls = 0;
  private crashAtPut: number | null = null;
  private crashed = false;

  constructor(readonly inner: ObjectStore) {}

  get url(): string {
    return this.inner.url;
  }

  /** The n-th put from now (1 = the next one) crashes, and everything after it. */
  crashOnPut(n: number): void {
    this.crashAtPut = this.putCalls + n;
  }

  /** The process "restarted": operations work again. */
  heal(): void {
    this.crashAtPut = null;
    this.crashed = false;
  }

  get hasCrashed(): boolean {
    return this.crashed;
  }

  private check(op: string, key: string): void {
    if (this.crashed) throw new InjectedCrash(op, key);
  }

  async put(key: string, body: Uint8Array | string, opts?: PutOptions): Promise<{ etag: string }> {
    this.check('put', key);
    this.putCalls++;
    if (this.crashAtPut !== null && this.putCalls >= this.crashAtPut) {
      this.crashed = true;
      throw new InjectedCrash('put', key);
    }
    const res = await this.inner.put(key, body, opts);
    this.putKeys.push(key);
    return res;
  }

  async get(key: string) {
    this.check('get', key);
    return this.inner.get(key);
  }

  async head(key: string): Promise<ObjectInfo | null> {
    this.check('head', key);
    return this.inner.head(key);
  }

  async list(prefix: string): Promise<ObjectInfo[]> {
    this.check('list', prefix);
    return this.inner.list(prefix);
  }

  async delete(key: string, opts?: { ifMatch?: string }): Promise<void> {
    this.check('delete', key);
    return this.inner.delete(key, opts);
  }
}

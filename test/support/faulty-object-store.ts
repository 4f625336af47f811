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
  /** Keys of successful puts, in completion order. */
  readonly putKeys: string[] = [];
  /** Errors the inner store threw (not injected ones), e.g. PreconditionFailedError from a lost race. */
  readonly innerErrors: { op: string; key: string; error: unknown }[] = [];
  private readonly inFlight = new Set<Promise<unknown>>();
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

  /** Resolves when every operation already passed to the inner store has finished: a crash does
   * not stop writes already on the wire, and tests want to look at the store after they land. */
  async settled(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }

  private check(op: string, key: string): void {
    if (this.crashed) throw new InjectedCrash(op, key);
  }

  private track<T>(op: string, key: string, run: () => Promise<T>): Promise<T> {
    const p = run().catch((error: unknown) => {
      this.innerErrors.push({ op, key, error });
      throw error;
    });
    this.inFlight.add(p);
    const done = () => this.inFlight.delete(p);
    p.then(done, done);
    return p;
  }

  async put(key: string, body: Uint8Array | string, opts?: PutOptions): Promise<{ etag: string }> {
    this.check('put', key);
    this.putCalls++;
    if (this.crashAtPut !== null && this.putCalls >= this.crashAtPut) {
      this.crashed = true;
      throw new InjectedCrash('put', key);
    }
    const res = await this.track('put', key, () => this.inner.put(key, body, opts));
    this.putKeys.push(key);
    return res;
  }

  async get(key: string) {
    this.check('get', key);
    return this.track('get', key, () => this.inner.get(key));
  }

  async head(key: string): Promise<ObjectInfo | null> {
    this.check('head', key);
    return this.track('head', key, () => this.inner.head(key));
  }

  async list(prefix: string): Promise<ObjectInfo[]> {
    this.check('list', prefix);
    return this.track('list', prefix, () => this.inner.list(prefix));
  }

  async delete(key: string, opts?: { ifMatch?: string }): Promise<void> {
    this.check('delete', key);
    return this.track('delete', key, () => this.inner.delete(key, opts));
  }
}

// The store writes of one slice, one after another in the order the loop posted them (a checkpoint
// commit must not overtake the metrics before it, nor run.json the checkpoint). The first failure
// is kept and stops the slice; after it, or after the lease is lost, queued writes are dropped:
// against a hung store each would take the SDK's whole retry budget, so the slice would only end
// after (checkpoints queued) × (retry budget), not within a bounded time.
export class CommitQueue {
  /** The first write that failed, or null. */
  error: unknown = null;
  private tail: Promise<void> = Promise.resolve();

  constructor(
    /** True once nothing more may be written (the lease is lost). */
    private readonly closed: () => boolean,
    /** Called at the first failure. */
    private readonly onError: (e: unknown) => void,
  ) {}

  add(write: () => Promise<unknown>): void {
    this.tail = this.tail
      .then(async () => {
        if (this.error === null && !this.closed()) await write();
      })
      .catch((e: unknown) => {
        if (this.error !== null) return;
        this.error = e;
        this.onError(e);
      });
  }

  /** Resolves once every write added so far has run (or been dropped). */
  drained(): Promise<void> {
    return this.tail;
  }
}

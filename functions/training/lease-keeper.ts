// Keeps a slice's training lease alive: renews it every third of its lifetime, one renewal at a
// time (each needs the previous ETag). A conditional-write loss means someone else took the run
// over; a store hiccup is retried until the lease would have expired, and then counts as a store
// outage, not a takeover.
import { PreconditionFailedError, type Lease } from '../../shared/store/types.ts';
import type { RunStore } from '../../shared/store/index.ts';

export interface LeaseLoss {
  /** Another holder owns the run now (the store refused our ETag). */
  takenOver: boolean;
  /** What the store said. */
  error: unknown;
}

export class LeaseKeeper {
  /** Null while the lease is ours. */
  lost: LeaseLoss | null = null;
  private timer: NodeJS.Timeout | undefined;
  private renewing = true;
  private inFlight: Promise<void> = Promise.resolve();

  constructor(
    private lease: Lease,
    private readonly store: Pick<RunStore, 'renewLease'>,
    private readonly leaseMs: number,
    private readonly now: () => number,
    /** Called once when the lease is lost: stop the slice without a checkpoint. */
    private readonly onLost: (loss: LeaseLoss) => void,
  ) {
    this.schedule();
  }

  /** The lease with its current ETag. */
  get current(): Lease {
    return this.lease;
  }

  /** No renewal after this resolves, so the lease can be released with its current ETag. */
  async stop(): Promise<void> {
    this.renewing = false;
    clearTimeout(this.timer);
    await this.inFlight;
  }

  private schedule(): void {
    if (!this.renewing) return;
    this.timer = setTimeout(() => (this.inFlight = this.renew()), this.leaseMs / 3);
    this.timer.unref();
  }

  private async renew(): Promise<void> {
    try {
      this.lease = await this.store.renewLease(this.lease, this.leaseMs);
    } catch (e) {
      const takenOver = e instanceof PreconditionFailedError;
      if ((takenOver || this.lease.expiresAt <= this.now()) && this.renewing) {
        this.lost = { takenOver, error: e };
        this.onLost(this.lost);
        return;
      }
    }
    this.schedule();
  }
}

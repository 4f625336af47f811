// Text produced on one side and read with `for await` on the other: each read gets everything
// produced since the last one; leaving the loop early cancels. The sampling streams of the engine
// (BatchSampler) and of the server's sampling threads (functions/sampling/pool.ts) are both this.
export type ChannelStatus = 'running' | 'done' | 'cancelled' | 'failed';

export abstract class TextChannel implements AsyncIterable<string> {
  /** Produced and not yet read. */
  private text = '';
  private status: ChannelStatus = 'running';
  private error: unknown = null;
  private wake: (() => void) | null = null;

  get running(): boolean {
    return this.status === 'running';
  }

  /** 'running', or how the stream ended (and the error when it failed). */
  get outcome(): { status: ChannelStatus; error: unknown } {
    return { status: this.status, error: this.error };
  }

  /** Take the text produced and not yet read, without waiting (for a reader outside this thread). */
  take(): string {
    const chunk = this.text;
    this.text = '';
    return chunk;
  }

  /** Stop producing; the reader ends quietly and unread text is dropped. */
  cancel(): void {
    if (this.running) this.close('cancelled');
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<string> {
    try {
      for (;;) {
        if (this.text) yield this.take();
        else if (this.status === 'failed') throw this.error;
        else if (!this.running) return;
        else await new Promise<void>((resolve) => (this.wake = resolve));
      }
    } finally {
      this.cancel();
    }
  }

  protected append(text: string): void {
    if (!this.running) return;
    this.text += text;
    this.signal();
  }

  /** End the stream (once); `onClose` runs with the final status. */
  protected close(status: Exclude<ChannelStatus, 'running'>, error: unknown = null): void {
    if (!this.running) return;
    this.status = status;
    this.error = error;
    if (status === 'cancelled') this.text = '';
    this.onClose(status);
    this.signal();
  }

  protected onClose(_status: Exclude<ChannelStatus, 'running'>): void {}

  private signal(): void {
    const wake = this.wake;
    this.wake = null;
    wake?.();
  }
}

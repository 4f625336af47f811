// Small waits shared by the sampling tests.

/** All the text of a stream (read to its end). */
export async function read(stream: AsyncIterable<string>): Promise<string> {
  let out = '';
  for await (const c of stream) out += c;
  return out;
}

/** Resolves once `cond` holds (polled every 2 ms); throws after `ms`. */
export async function until(cond: () => boolean, ms = 10_000): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 2));
  }
}

// functions/client.ts is what the TUI loads: it must pull in neither tfjs nor the server, only
// types from app.ts. Checked on the real module graph (esbuild's metafile of a bundle of it).
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';
import { readSse } from '../../functions/client.ts';

describe('client.ts', () => {
  it('bundles without tfjs, the engine, the store or the server', async () => {
    const result = await build({ entryPoints: ['functions/client.ts'], bundle: true, write: false, metafile: true, platform: 'node', format: 'esm', logLevel: 'silent' });
    const inputs = Object.keys(result.metafile!.inputs);
    expect(inputs.some((p) => p.includes('hono'))).toBe(true);
    expect(inputs.filter((p) => /@tensorflow|shared\/engine|shared\/store|functions\/(app|server|routes)/.test(p))).toEqual([]);
  });

  it('readSse parses named events, multi-line data and comments across chunk boundaries', async () => {
    const wire = 'event: progress\ndata: {"step":1}\n\n: keepalive\n\ndata: line one\ndata: line two\n\nevent: done\ndata: {}\n\n';
    const bytes = new TextEncoder().encode(wire);
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let i = 0; i < bytes.length; i += 7) controller.enqueue(bytes.slice(i, i + 7)); // split mid-line
        controller.close();
      },
    });
    const events = [];
    for await (const ev of readSse(new Response(body))) events.push(ev);
    expect(events).toEqual([
      { event: 'progress', data: '{"step":1}' },
      { event: 'message', data: 'line one\nline two' },
      { event: 'done', data: '{}' },
    ]);
  });
});

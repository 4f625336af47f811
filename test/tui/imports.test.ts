// The TUI speaks HTTP only: bundling its screens must not pull in tfjs, the engine, the store or
// the functions app (type-only imports vanish; a runtime one would show up here).
import { build } from 'esbuild';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

describe('tui dependencies', () => {
  it('reach the API only through the client layer (functions/client.ts, functions/client/)', async () => {
    const result = await build({
      absWorkingDir: ROOT,
      entryPoints: ['tui/app.tsx', 'tui/plain.ts'],
      bundle: true,
      write: false,
      metafile: true,
      platform: 'node',
      format: 'esm',
      packages: 'external',
      outdir: 'out',
      jsx: 'automatic',
      logLevel: 'silent',
    });
    const inputs = Object.keys(result.metafile.inputs);
    const externals = Object.values(result.metafile.outputs).flatMap((o) => o.imports.map((i) => i.path));
    expect(inputs).toContain('functions/client.ts');
    // The client layer: the HTTP client, the slice chain, the corpus file (no server, no tfjs).
    expect(inputs.filter((p) => p.startsWith('functions/') && !p.startsWith('functions/client/'))).toEqual(['functions/client.ts']);
    expect(inputs.filter((p) => p.startsWith('shared/engine/') || p.startsWith('shared/store/'))).toEqual([]);
    expect(externals.filter((p) => p.includes('tensorflow'))).toEqual([]);
    expect(externals).toContain('hono/client');
    expect(externals).toContain('ink');
  });
});

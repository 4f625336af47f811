// One run id rule (shared/run-id.ts): the CLI's --run and the TUI's name field (which the server
// turns into the id) give the same id, accents folded ("Café" → "cafe").
import { describe, expect, it } from 'vitest';
import { runIdArg } from '../../functions/cli.ts';
import { startServer } from '../../functions/server.ts';
import { isRunId, runIdFromName } from '../../shared/run-id.ts';
import { Api } from '../../tui/api.ts';
import { useTempStore } from './helpers.ts';

const store = useTempStore();

describe('run ids', () => {
  it('the CLI and the TUI derive the same id from a name', async () => {
    const server = await startServer({ port: 0, host: '127.0.0.1', storeUrl: store.url, token: '', backendInit: 'first-use' });
    try {
      const tui = new Api(server.url);
      for (const [name, id] of [
        ['Café', 'cafe'],
        ['My First Run  (Moby Dick)', 'my-first-run-moby-dick'],
        ['Ångström Éclair', 'angstrom-eclair'],
      ] as const) {
        const run = await tui.createRun({ corpus: 'names', name, config: { preset: 'tiny' } });
        expect(run.id).toBe(id);
        expect(runIdArg(name)).toBe(run.id);
      }
    } finally {
      await server.close();
    }
  });

  it('what runIdFromName returns is an id, or empty', () => {
    for (const name of ['Café', '..hidden', '--', 'a'.repeat(100), 'x.-', '日本語', 'Tab\there', '_under']) {
      const id = runIdFromName(name);
      expect(id === '' || isRunId(id), `${name} → ${id}`).toBe(true);
    }
    expect(runIdArg('日本語')).toBe('run');
  });
});

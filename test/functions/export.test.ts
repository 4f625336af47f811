// GET /runs/:id/export over a real socket: the zip's files, model.js carrying the checkpoint's very
// bytes, the checkpoint selector, and clear 4xx for what cannot be exported. (The page itself runs
// in a browser in test/web/page.test.ts.)
import { unzipSync } from 'fflate';
import vm from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type RunningServer } from '../../functions/server.ts';
import { openRunStore } from '../../shared/store/index.ts';
import { MODEL_GLOBAL, SITE_FILES, type ExportedModel } from '../../functions/export/page/site.mjs';
import { json, TINY, useTempStore } from './helpers.ts';

const temp = useTempStore();
let server: RunningServer;
const url = (p: string) => `${server.url}${p}`;

beforeAll(async () => {
  server = await startServer({ port: 0, storeUrl: temp.url, token: '', log: () => {} });
  expect((await fetch(url('/runs'), json({ corpus: 'names', id: 'ex', name: 'Names, exported', config: TINY }))).status).toBe(201);
});
afterAll(async () => {
  await server?.close();
});

async function error(path: string): Promise<{ status: number; error: { code: string; message: string; field?: string } }> {
  const res = await fetch(url(path));
  return { status: res.status, ...(await res.json()) };
}

describe('GET /runs/:id/export', () => {
  it('answers 404, 409 and 400 for what it cannot export', async () => {
    expect(await error('/runs/nope/export')).toMatchObject({ status: 404, error: { code: 'not_found' } });
    expect(await error('/runs/ex/export')).toMatchObject({ status: 409, error: { code: 'not_trained', message: 'run "ex" has no checkpoint yet: train first (POST /runs/ex/train)' } });
    const bad = await error('/runs/ex/export?checkpoint=newest');
    expect(bad).toMatchObject({ status: 400, error: { code: 'validation_failed', field: 'query.checkpoint' } });
    expect(bad.error.message).toContain('use latest, best or a step number');
  });

  it('zips the page, its script, model.js with the checkpoint, model.json, weights.bin and the vocabulary', async () => {
    expect((await fetch(url('/runs/ex/train'), json({ steps: 4 }))).status).toBe(200);
    const res = await fetch(url('/runs/ex/export'));
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/zip');
    expect(res.headers.get('content-disposition')).toBe('attachment; filename="charrnn-ex-4.zip"');
    const files = unzipSync(new Uint8Array(await res.arrayBuffer()));
    expect(Object.keys(files).sort()).toEqual(Object.values(SITE_FILES).sort());

    const ck = (await openRunStore(temp.url).loadCheckpoint('ex', 'latest'))!;
    expect(Buffer.from(files[SITE_FILES.weights]).equals(Buffer.from(ck.files['weights.bin']))).toBe(true);
    expect(Buffer.from(files[SITE_FILES.modelJson]).equals(Buffer.from(ck.files['model.json']))).toBe(true);
    // model.js is a script that sets the global the page reads: the same checkpoint, base64.
    const sandbox: Record<string, unknown> = {};
    vm.runInNewContext(new TextDecoder().decode(files[SITE_FILES.model]), sandbox);
    const model = sandbox[MODEL_GLOBAL] as ExportedModel;
    expect(model).toMatchObject({ run: { id: 'ex', name: 'Names, exported' }, step: 4, checkpoint: 'latest' });
    expect(Buffer.from(model.weights, 'base64').equals(Buffer.from(ck.files['weights.bin']))).toBe(true);
    const vocab = JSON.parse(new TextDecoder().decode(files[SITE_FILES.vocab])) as string[];
    expect(vocab).toEqual((model.modelJson as { userDefinedMetadata: { charrnn: { vocab: string[] } } }).userDefinedMetadata.charrnn.vocab);
    expect(new TextDecoder().decode(files[SITE_FILES.html])).toContain(`<script src="${SITE_FILES.script}"></script>`);
    expect(files[SITE_FILES.script].length).toBeGreaterThan(500_000); // tfjs is in it

    // By selector: best (the slice's end validated) and a step; a step without a checkpoint is a 404.
    const best = unzipSync(new Uint8Array(await (await fetch(url('/runs/ex/export?checkpoint=best'))).arrayBuffer()));
    expect(new TextDecoder().decode(best[SITE_FILES.model])).toContain('"checkpoint":"best"');
    expect((await fetch(url('/runs/ex/export?checkpoint=4'))).status).toBe(200);
    expect(await error('/runs/ex/export?checkpoint=3')).toMatchObject({ status: 404, error: { message: 'run "ex" has no checkpoint at step 3' } });
  });
});

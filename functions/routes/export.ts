// GET /runs/:id/export: a checkpoint as a static site in a zip (functions/export/site.ts): a page
// that generates text in any browser, from file:// or any static host, with no server.
import { createRoute, z } from '@hono/zod-openapi';
import { ExportQuery } from '../../shared/api/schemas.ts';
import { pageAssets, siteFiles, zipSite } from '../export/site.ts';
import { requireCheckpoint, requireRun } from '../runs/service.ts';
import { newRouter } from './validating-router.ts';
import type { Services } from '../services.ts';
import { errors, RunParams } from './common.ts';

const exportRoute = createRoute({
  method: 'get',
  path: '/runs/{id}/export',
  tags: ['sampling'],
  summary: 'The checkpoint as a static web page (zip)',
  description:
    'index.html, charrnn.js (the page, tfjs included), model.js (the checkpoint for the page), model.json, weights.bin and vocab.json. ' +
    'Unzip and open index.html: it generates text in the browser with the controls of POST /runs/{id}/sample.',
  request: { params: RunParams, query: ExportQuery },
  responses: {
    200: { description: 'The site', content: { 'application/zip': { schema: z.string().openapi({ format: 'binary' }) } } },
    ...errors(400, 401, 404, 409, 503),
  },
});

export function exportRoutes(s: Services) {
  return newRouter().openapi(exportRoute, async (c) => {
    const { id } = c.req.valid('param');
    const { checkpoint = 'latest' } = c.req.valid('query');
    const run = await requireRun(s, id);
    const ref = checkpoint === 'latest' || checkpoint === 'best' ? checkpoint : Number(checkpoint);
    const [loaded, page] = await Promise.all([requireCheckpoint(s, id, ref), pageAssets()]);
    const files = loaded.files as { 'model.json': Uint8Array; 'weights.bin': Uint8Array };
    const zip = zipSite(siteFiles({ run: { id: run.id, name: run.name }, checkpoint, files }, page));
    return c.body(zip as Uint8Array<ArrayBuffer>, 200, {
      'content-type': 'application/zip',
      'content-disposition': `attachment; filename="charrnn-${id}-${loaded.step}.zip"`,
    });
  });
}

// POST /corpora: raw UTF-8 text in, a content-addressed ref out (for POST /runs {corpus: ref}).
import { createRoute, z } from '@hono/zod-openapi';
import { CorpusUploaded } from '../../shared/api/schemas.ts';
import { decodeCorpus, Vocab } from '../../shared/engine/tf-free.ts';
import { newRouter } from './validating-router.ts';
import type { Services } from '../services.ts';
import { errors } from './common.ts';

const upload = createRoute({
  method: 'post',
  path: '/corpora',
  tags: ['corpora'],
  summary: 'Upload a corpus (raw text/plain, strict UTF-8)',
  request: {
    body: { required: true, content: { 'text/plain': { schema: z.string().openapi({ description: 'The corpus text, UTF-8' }) } } },
  },
  responses: {
    201: { description: 'Stored (idempotent: the same text gives the same ref)', content: { 'application/json': { schema: CorpusUploaded } } },
    ...errors(401, 413, 422, 503),
  },
});

export function corporaRoutes(s: Services) {
  return newRouter().openapi(upload, async (c) => {
    const bytes = new Uint8Array(await c.req.arrayBuffer());
    const text = decodeCorpus(bytes); // EngineInputError('corpus') → 422
    const vocab = Vocab.fromText(text);
    const { ref } = await s.store.putCorpus(bytes);
    let chars = 0;
    for (const _ of text) chars++;
    return c.json({ ref, chars, vocabSize: vocab.size, bytes: bytes.length }, 201);
  });
}

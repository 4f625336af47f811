// Pieces shared by the route definitions: error responses for the OpenAPI document, the path param.
import { z } from '@hono/zod-openapi';
import { ApiError, RunId } from '../../shared/api/schemas.ts';

export const errorContent = { 'application/json': { schema: ApiError } };

/** Standard error responses; pass the statuses a route can produce. */
export function errors<const S extends number[]>(...statuses: S): { [K in S[number]]: { description: string; content: typeof errorContent } } {
  const text: Record<number, string> = {
    400: 'Invalid request (field and reason in the message)',
    401: 'Missing or wrong bearer token',
    404: 'No such run',
    409: 'Conflict (training in progress, id taken, or nothing trained yet)',
    413: 'Request body too large',
    422: 'Corpus unusable',
    429: 'Too many concurrent sample streams',
    503: 'Store unavailable',
  };
  return Object.fromEntries(statuses.map((s) => [s, { description: text[s] ?? 'Error', content: errorContent }])) as never;
}

export const RunParams = z.object({ id: RunId });

export const sseContent = (description: string) => ({
  'text/event-stream': { schema: z.string().openapi({ description }) },
});

/** Whether the client asked for Server-Sent Events. */
export function wantsSse(accept: string | undefined): boolean {
  return !!accept && accept.includes('text/event-stream');
}

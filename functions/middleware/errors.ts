// The app-wide error and not-found handlers, plus the zod validation hook: all answer ApiError JSON.
import type { Context, ErrorHandler, NotFoundHandler } from 'hono';
import type { ZodError } from 'zod';
import { errorBody, errorResponse, toHttpError, zodIssueToError } from '../errors.ts';

/** Maps any thrown error to its ApiError response; unexpected ones are logged through `log`. */
export function onError(log: (msg: string) => void): ErrorHandler {
  return (err, c) => errorResponse(c, toHttpError(err, log));
}

export const notFound: NotFoundHandler = (c) => c.json(errorBody('not_found', `no route ${c.req.method} ${c.req.path}`), 404);

/** OpenAPIHono defaultHook: the first zod issue as a one-line 400 naming the field. */
export function validationHook(result: { success: boolean; error?: ZodError; target: string }, c: Context) {
  if (result.success || !result.error) return;
  const prefix = result.target === 'query' ? 'query' : undefined;
  return errorResponse(c, zodIssueToError(result.error, prefix));
}

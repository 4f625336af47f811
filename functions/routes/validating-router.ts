// newRouter(): the OpenAPIHono every route file builds on, whose zod validation failures answer as
// ApiError 400 (the hook is per instance). The route table itself is app.ts.
import { OpenAPIHono } from '@hono/zod-openapi';
import { validationHook } from '../middleware/errors.ts';

export function newRouter() {
  return new OpenAPIHono({ defaultHook: validationHook });
}

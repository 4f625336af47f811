// Every failure a handler can produce becomes one JSON ApiError `{error:{code,message,field?}}`.
// Known error classes map to their status here; anything else is a 500 whose details stay in the log.
import type { Context } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { ZodError } from 'zod';
import { EngineInputError } from '../shared/engine/types.ts';
import {
  InvalidKeyError,
  LeaseConflictError,
  PreconditionFailedError,
  RunExistsError,
  RunNotFoundError,
  StoreUnavailableError,
} from '../shared/store/types.ts';

/** An error with its HTTP status and machine-readable code. */
export class HttpError extends Error {
  constructor(
    readonly status: ContentfulStatusCode,
    readonly code: string,
    message: string,
    readonly field?: string,
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

export function errorBody(code: string, message: string, field?: string) {
  return { error: field === undefined ? { code, message } : { code, message, field } };
}

/** First zod issue as one line: "config.hidden: Too big: expected number to be <=2048". */
export function zodIssueToError(err: ZodError, prefix?: string): HttpError {
  const issue = err.issues[0];
  const keys = issue?.code === 'unrecognized_keys' ? (issue as { keys?: string[] }).keys ?? [] : [];
  const pathParts = [...(prefix ? [prefix] : []), ...(issue?.path ?? []).map(String)];
  if (keys.length) pathParts.push(keys[0]);
  const field = pathParts.join('.') || undefined;
  const reason = keys.length ? `unknown field` : issue?.message ?? 'invalid';
  return new HttpError(400, 'validation_failed', field ? `${field}: ${reason}` : reason, field);
}

/** A training slice's worker failed (bad checkpoint bytes, out of memory, a bug): the run is marked failed, a 500. */
export class TrainingFailedError extends Error {
  constructor(message: string) {
    super(`training failed: ${message.split('\n')[0]}`);
    this.name = 'TrainingFailedError';
  }
}

/** Map any thrown value to an HttpError; logs the unexpected ones (message and stack, no request data). */
export function toHttpError(err: unknown, log: (msg: string) => void = console.error): HttpError {
  if (err instanceof HttpError) return err;
  if (err instanceof HTTPException) {
    const status = err.status as ContentfulStatusCode;
    if (status === 413) return new HttpError(413, 'payload_too_large', err.message || 'request body too large');
    return new HttpError(status, status === 400 ? 'bad_request' : 'http_error', oneLine(err.message) || 'bad request');
  }
  if (err instanceof EngineInputError && err.field === 'checkpoint') {
    // Stored checkpoint bytes the engine cannot read: not the caller's fault.
    log(`unreadable checkpoint: ${err.message}`);
    return new HttpError(500, 'checkpoint_unreadable', oneLine(err.message));
  }
  if (err instanceof EngineInputError) {
    const corpus = err.field === 'corpus' || err.field.startsWith('corpus.');
    return new HttpError(corpus ? 422 : 400, corpus ? 'corpus_unusable' : 'invalid_input', oneLine(err.message), err.field);
  }
  if (err instanceof LeaseConflictError) return new HttpError(409, 'training_in_progress', oneLine(err.message));
  if (err instanceof RunExistsError) return new HttpError(409, 'run_exists', `run "${err.runId}" already exists: pick another id or name`, 'id');
  if (err instanceof RunNotFoundError) return new HttpError(404, 'not_found', `no run "${err.runId}"`);
  if (err instanceof InvalidKeyError) return new HttpError(400, 'invalid_id', oneLine(err.message));
  if (err instanceof PreconditionFailedError) return new HttpError(409, 'conflict', 'the resource changed concurrently; retry');
  if (err instanceof StoreUnavailableError) {
    log(`store unavailable: ${err.message}`);
    // Say why when the operator can act on it; paths and keys stay in the log.
    const reason = STORE_ERRNO_REASONS[(err.cause as NodeJS.ErrnoException | undefined)?.code ?? ''];
    return new HttpError(503, 'store_unavailable', reason ? `the run store is unavailable (${reason}); retry later` : 'the run store is unavailable; retry later');
  }
  if (err instanceof TrainingFailedError) {
    log(err.message);
    return new HttpError(500, 'training_failed', oneLine(err.message));
  }
  log(`internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  return new HttpError(500, 'internal', 'internal error');
}

export function errorResponse(c: Context, err: HttpError): Response {
  return c.json(errorBody(err.code, err.message, err.field), err.status);
}

const STORE_ERRNO_REASONS: Record<string, string> = {
  ENOSPC: 'no space left on its disk',
  EDQUOT: 'disk quota exceeded',
  EROFS: 'its file system is read-only',
  EACCES: 'permission denied',
  EPERM: 'permission denied',
};

function oneLine(s: string): string {
  return s.split('\n')[0].trim();
}

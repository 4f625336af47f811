// Turns any failure into one readable line that says what to do next (never a stack trace).
import { ApiRequestError } from './api.ts';

export function describeError(err: unknown): string {
  if (err instanceof ApiRequestError) {
    switch (err.status) {
      case 0:
        return err.code === 'aborted'
          ? 'Request cancelled.'
          : `${capitalise(err.message)}: start the server or pass --api URL.`;
      case 400:
      case 422:
        return `${withField(err)} — fix it and try again.`;
      case 401:
      case 403:
        // What to do first: the server's own reason can be long enough to be cut off.
        return `Set CHARRNN_API_TOKEN to a valid token: the API refused the request (${err.status}: ${err.message}).`;
      case 404:
        return `${capitalise(err.message)} — check the run id (it may have been deleted).`;
      case 409:
        return conflict(err);
      case 413:
        return `${capitalise(err.message)} — the upload is too large for this server; use a smaller file.`;
      case 429:
      case 503:
        return `The server is busy (${err.status}: ${err.message}) — try again in a moment.`;
      default:
        return `The server failed (${err.status}: ${err.message}) — try again; if it persists check the server log.`;
    }
  }
  if (err instanceof Error) return capitalise(err.message.split('\n')[0]);
  return String(err);
}

/** 409 means several things; say the one that happened and what to do about it. */
function conflict(err: ApiRequestError): string {
  const msg = capitalise(err.message.replace(/ \(POST [^)]*\)$/, ''));
  switch (err.code) {
    case 'not_trained':
      return `${msg} — press t in the run view to train it.`;
    case 'training_in_progress':
      return `${msg} — another client is training it; wait for its slice to end (or watch it in the run view).`;
    case 'lease_lost':
      return `${msg} — another trainer took the run over.`;
    case 'run_exists':
      return `${msg}.`;
    default:
      return `${msg} — retry in a moment.`;
  }
}

/** "field: message", without doubling a field the server already put in front. */
export function withField(err: ApiRequestError): string {
  if (!err.field || err.message.startsWith(`${err.field}:`)) return err.message;
  return `${err.field}: ${err.message}`;
}

/** The message without its "field: " prefix, for showing next to that field. */
export function fieldMessage(err: ApiRequestError): string {
  return err.field && err.message.startsWith(`${err.field}: `) ? err.message.slice(err.field.length + 2) : err.message;
}

function capitalise(s: string): string {
  return s ? s[0].toUpperCase() + s.slice(1) : s;
}

// What a stored run record means, with no server state: the samples it takes while training, and
// why a checkpoint it lacks is missing. Apart from service.ts (which takes the Services) so that the
// sampler cache and the training slices use them without an import cycle through services.ts.
import { resolveSampleConfig } from '../../shared/engine/tf-free.ts';
import type { TrainingSampleConfig } from '../../shared/engine/types.ts';
import type { CheckpointRef, RunRecord } from '../../shared/store/types.ts';
import { HttpError } from '../errors.ts';

/** The samples a run takes while training (defaults for runs created before they existed). */
export function sampleConfigOf(run: RunRecord): TrainingSampleConfig {
  return resolveSampleConfig({}, run.sample);
}

/** Why a run has no checkpoint `ref`: 409 before its first ('latest') or first validated ('best') one, 404 for a step. */
export function checkpointMissing(runId: string, ref: CheckpointRef): HttpError {
  if (typeof ref === 'number') return new HttpError(404, 'not_found', `run "${runId}" has no checkpoint at step ${ref}`, 'checkpoint');
  return ref === 'best'
    ? new HttpError(409, 'not_trained', `run "${runId}" has no checkpoint with a measured validation loss yet: train first`, 'checkpoint')
    : new HttpError(409, 'not_trained', `run "${runId}" has no checkpoint yet: train first (POST /runs/${runId}/train)`);
}

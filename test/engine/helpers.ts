// Shared imports for the engine tests.
export * from '../../shared/engine/index.ts';
import type { RunConfigInput } from '../../shared/api/schemas.ts';
export type RunConfigInputLike = RunConfigInput;

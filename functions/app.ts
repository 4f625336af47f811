// The HTTP API: one OpenAPIHono app whose validators and /openapi.json come from shared/api/schemas.ts.
// createApp wires services to route modules; the typed client (client.ts) imports only AppType.
import type { EngineSettings } from '../shared/engine/settings.ts';
import type { RunStore } from '../shared/store/index.ts';
import { ServerBackend } from './backend.ts';
import { readEngineSettings, readLimits, type Limits } from './settings.ts';
import { bearerAuth } from './middleware/auth.ts';
import { bodyLimit } from './middleware/body-limit.ts';
import { closeUnreadRequests } from './middleware/close-unread.ts';
import { notFound, onError } from './middleware/errors.ts';
import { strictUtf8Json } from './middleware/utf8.ts';
import { newRouter } from './routes/validating-router.ts';
import { corporaRoutes } from './routes/corpora.ts';
import { exportRoutes } from './routes/export.ts';
import { healthRoutes } from './routes/health.ts';
import { metricsRoutes } from './routes/metrics.ts';
import { retrainRoutes } from './routes/retrain.ts';
import { runRoutes } from './routes/runs.ts';
import { sampleRoutes } from './routes/sample.ts';
import { trainRoutes } from './routes/train.ts';
import { SamplerCache } from './sampling/sampler-cache.ts';
import type { Services } from './services.ts';
import { TrainingManager } from './training/manager.ts';
import { VERSION } from './version.ts';

export interface AppDeps {
  store: RunStore;
  limits?: Limits;
  /** Bearer token every route but /healthz requires; unset = open. */
  token?: string;
  /** The tfjs backend; default: one initialised on first use (a train or sample request), with `engine`. */
  backend?: ServerBackend;
  /** The engine's settings of the default backend; default: readEngineSettings(). */
  engine?: EngineSettings;
  now?: () => number;
  log?: (msg: string) => void;
}

export function createApp(deps: AppDeps) {
  const limits = deps.limits ?? readLimits();
  const now = deps.now ?? Date.now;
  const log = deps.log ?? ((msg: string) => console.error(`[charrnn] ${msg}`));
  const backend = deps.backend ?? new ServerBackend({ engine: deps.engine ?? readEngineSettings(), ...(limits.sampleThreads !== undefined ? { sampleThreads: limits.sampleThreads } : {}), log });
  const services: Services = {
    store: deps.store,
    limits,
    version: VERSION,
    backend,
    trainings: new TrainingManager({ store: deps.store, limits, log, now, engine: backend.engine, trainingThread: async () => (await backend.ready()).plan.training }),
    samplers: new SamplerCache(deps.store, limits.samplerCacheSize, backend, log),
    sampling: { active: 0 },
    trainResponses: new Set(),
    closing: new AbortController(),
    now,
    log,
  };
  const generalLimit = bodyLimit(limits.maxBodyBytes);
  const corpusLimit = bodyLimit(limits.maxCorpusBytes, 'corpus');

  const root = newRouter();
  root.use('*', closeUnreadRequests());
  root.use('*', bearerAuth(deps.token));
  root.use('*', (c, next) => (c.req.path === '/corpora' ? corpusLimit(c, next) : generalLimit(c, next)));
  root.use('*', strictUtf8Json());
  const app = root
    .route('/', healthRoutes(services))
    .route('/', runRoutes(services))
    .route('/', corporaRoutes(services))
    .route('/', trainRoutes(services))
    .route('/', retrainRoutes(services))
    .route('/', sampleRoutes(services))
    .route('/', exportRoutes(services))
    .route('/', metricsRoutes(services));

  app.openAPIRegistry.registerComponent('securitySchemes', 'bearer', {
    type: 'http',
    scheme: 'bearer',
    description: 'CHARRNN_API_TOKEN (required on every route but /healthz when the server sets one)',
  });
  app.doc31('/openapi.json', {
    openapi: '3.1.0',
    info: { title: 'charrnn', version: VERSION, description: 'Character-level LSTM text generation as a service.' },
    security: [{ bearer: [] }],
  });
  app.onError(onError(log));
  app.notFound(notFound);

  return Object.assign(app, { services });
}

export type App = ReturnType<typeof createApp>;
export type AppType = App;

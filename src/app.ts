/**
 * createApp(config, overrides) → { app, deps, close }: the composition root used by
 * `main`, the tests and the end-to-end runs.
 */
import crypto from 'node:crypto';
import cors from '@fastify/cors';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { Config } from './config/index.js';
import { createDeps, type Deps, type DepsOverrides } from './deps.js';
import { registerErrorHandler } from './api/plugins/error-handler.js';
import { registerSwagger } from './api/plugins/swagger.js';
import { serviceRoutes } from './api/routes/service.js';
import { metricsRoutes } from './api/routes/metrics.js';
import { registerHttpMetrics } from './metrics/http.js';
import { registerAuth } from './api/plugins/auth.js';
import { authRoutes } from './api/routes/auth.js';
import { modelSettingsRoutes } from './api/routes/model-settings.js';
import { toolkitRoutes } from './api/routes/toolkits.js';
import { toolRoutes } from './api/routes/tools.js';
import { userRoutes } from './api/routes/users.js';
import { predictRoutes } from './api/routes/predict.js';
import { operationRoutes } from './api/routes/operations.js';
import { mediaRoutes } from './api/routes/media.js';
import { registerMultipart } from './api/plugins/multipart.js';
import { deepLinkFallback, loadWebApp, registerWebApp } from './api/plugins/web-app.js';
import { predictBatchRoutes } from './api/routes/predict-batch.js';
import { registerPreviewRateLimit } from './api/plugins/preview-access.js';
import { signMediaUrls } from './media/signed-urls.js';
import { jobRoutes } from './api/routes/jobs.js';
import { jobSchemas } from './api/schemas/jobs.js';
import { recognitionSchemas } from './api/schemas/recognition.js';
import { operationSchemas } from './api/schemas/operations.js';
import { createLogger } from './shared/logger.js';
import { SERVICE_VERSION } from './shared/version.js';

export interface App {
  app: FastifyInstance;
  deps: Deps;
  close(): Promise<void>;
}

export async function createApp(config: Readonly<Config>, overrides: DepsOverrides = {}): Promise<App> {
  const logger = overrides.logger ?? createLogger(config.logLevel);
  const app = Fastify({
    loggerInstance: logger as FastifyBaseLogger,
    requestIdHeader: 'x-request-id',
    genReqId: () => crypto.randomUUID(),
    bodyLimit: Math.ceil(config.maxUploadBytes * 1.4) + 64 * 1024, // base64 JSON uploads
    // Only behind a proxy that sets X-Forwarded-For; otherwise clients could pick their own address.
    trustProxy: config.trustProxy,
    // Seed 000 is a FastAPI service, which answers /predict as /predict/: clients written for it work.
    routerOptions: { ignoreTrailingSlash: true },
    ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array', useDefaults: true } },
  }).withTypeProvider<TypeBoxTypeProvider>() as unknown as FastifyInstance;

  const deps = await createDeps(config, { ...overrides, logger });
  try {
    // Read once: the shell and its script hashes are fixed for the life of the process.
    const webApp = await loadWebApp(config.webDir, logger);
    app.addHook('onSend', async (request, reply) => {
      reply.header('x-request-id', request.id);
    });
    registerErrorHandler(app, webApp ? { notFoundFallback: deepLinkFallback(webApp) } : {});
    registerHttpMetrics(app, deps.metrics);
    if (config.corsOrigins) {
      // Credentials (the refresh cookie) only for origins named one by one: `*` reflects any origin,
      // and with credentials any page could read what the cookie gets it.
      const any = config.corsOrigins === '*';
      await app.register(cors, { origin: any ? true : [...config.corsOrigins], credentials: !any });
    }
    await registerSwagger(app, { version: SERVICE_VERSION });
    for (const schema of [...recognitionSchemas, ...operationSchemas, ...jobSchemas]) app.addSchema(schema);
    await registerMultipart(app, { maxFileBytes: config.maxUploadBytes, maxFiles: 1 });
    registerAuth(app, deps.services.auth);
    // Image URLs are stored plain (`/media/<key>`) and signed as each response leaves, so
    // every answer (predictions, operations and their result_json, jobs) opens in an <img>.
    app.addHook('preSerialization', async (_request, _reply, payload) => signMediaUrls(payload, deps.mediaUrls));
    await app.register(serviceRoutes, { deps, webApp });
    await app.register(metricsRoutes, { metrics: deps.metrics, token: config.metricsToken });
    await app.register(authRoutes, { deps });
    await app.register(userRoutes, { deps });
    await app.register(toolRoutes, { deps });
    await app.register(toolkitRoutes, { deps });
    await app.register(modelSettingsRoutes, { deps });
    // The previews in a scope of their own: PREVIEW_AUTH=none's rate limit covers them only.
    await app.register(async (previews) => {
      await registerPreviewRateLimit(previews, config);
      await previews.register(predictRoutes, { deps });
      await previews.register(predictBatchRoutes, { deps });
    });
    await app.register(jobRoutes, { deps });
    await app.register(operationRoutes, { deps });
    await app.register(mediaRoutes, { deps });
    if (webApp) await registerWebApp(app, webApp);
    await app.ready();
    // Without Redis there are no separate workers: this process runs the jobs.
    if (deps.jobs.queue.kind === 'in-process') await deps.jobs.startProcessing();
  } catch (err) {
    await app.close().catch(() => undefined);
    await deps.close();
    throw err;
  }

  let closed = false;
  return {
    app,
    deps,
    async close() {
      if (closed) return;
      closed = true;
      await app.close();
      await deps.close();
    },
  };
}

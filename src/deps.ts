/**
 * The one place things are wired. `main`, the worker and every test build their
 * dependencies here; tests replace any part through `overrides`.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Redis } from 'ioredis';
import type { Config } from './config/index.js';
import type { Cache } from './cache/cache.js';
import { createExpiringStore, createMemoryCache } from './cache/memory-cache.js';
import { createRedisCache } from './cache/redis-cache.js';
import { createRedisClient } from './cache/redis-client.js';
import { openDatabase, type Database } from './db/client.js';
import { seedDefaults } from './db/seed.js';
import type { Detector } from './ml/detector.js';
import { loadDetector } from './ml/load-detector.js';
import { modelStatusOf } from './ml/model-status.js';
import { isRemoteDetector, withRemoteReadiness } from './ml/remote-detector.js';
import { instrumentCache, instrumentDetector, instrumentOperations, instrumentRecognition } from './metrics/instrument.js';
import { createMetrics, type Metrics } from './metrics/metrics.js';
import { createHealthService } from './services/health-service.js';
import { createFsMediaStore, type MediaStore } from './media/media-store.js';
import { annotateImage } from './media/annotate.js';
import { createMediaUrlSigner } from './media/signed-urls.js';
import { createRecognitionCatalog } from './repositories/recognition-catalog.js';
import { createPredictionsRepository } from './repositories/predictions.js';
import { createSeedRegister } from './repositories/seed-register.js';
import { createKitCustodyRepository, createOperationsRepository } from './repositories/operations.js';
import { findUserById } from './repositories/users-repository.js';
import { createRecognitionService, type AnnotationRequest } from './services/recognition-service.js';
import { createPredictionService } from './services/prediction-service.js';
import { createOperationService } from './services/operation-service.js';
import { createMediaAccessService } from './services/media-access-service.js';
import { createAccessTokens } from './services/access-tokens.js';
import { createAuthService } from './services/auth-service.js';
import { createLoginRateLimiter } from './services/login-rate-limiter.js';
import { createModelSettingsService } from './services/model-settings-service.js';
import { createRefreshTokens } from './services/refresh-tokens.js';
import { createToolkitsService } from './services/toolkits-service.js';
import { createToolsService } from './services/tools-service.js';
import { createUsersService } from './services/users-service.js';
import { FONT_PATH } from './media/fonts.js';
import { systemClock, type Clock } from './shared/clock.js';
import { createJobs } from './jobs/index.js';
import type { JobQueue } from './jobs/queue.js';
import { createJobsRepository } from './repositories/jobs.js';
import { createBatchService } from './services/batch-service.js';
import { createDetectionCache } from './services/result-cache.js';
import { createLogger, type Logger } from './shared/logger.js';

export interface DepsOverrides {
  logger?: Logger;
  database?: Database;
  cache?: Cache;
  /** A detector, or null to run without a model (health reports it). */
  detector?: Detector | null;
  /** Metrics instruments; default: a fresh registry with process metrics. */
  metrics?: Metrics;
  media?: MediaStore;
  clock?: Clock;
  /** The job queue; default BullMQ with REDIS_URL, in-process without. */
  jobQueue?: JobQueue;
}

export async function createDeps(config: Readonly<Config>, overrides: DepsOverrides = {}) {
  const logger = overrides.logger ?? createLogger(config.logLevel);
  const clock = overrides.clock ?? systemClock;
  const metrics = overrides.metrics ?? createMetrics();
  const closers: Array<() => Promise<unknown>> = [];
  const close = async () => {
    for (const fn of closers.reverse()) {
      await fn().catch((err: Error) => logger.warn({ err: err.message }, 'error while closing'));
    }
  };

  try {
    const database =
      overrides.database ??
      (await openDatabase({ url: config.databaseUrl, pgliteDir: path.join(config.dataDir, 'pglite'), logger }));
    if (!overrides.database) closers.push(() => database.close());
    await database.migrate();
    await seedDefaults(database.db, { admin: config.admin, logger });

    let redis: Redis | null = null;
    let cache: Cache;
    // Auth state (login counters, refresh tokens, revocations) shares Redis with results, but
    // in-process it gets its own store: a flood of results in the LRU would evict login blocks
    // and revocations.
    let ownAuthStore: Cache | null = null;
    if (overrides.cache) {
      cache = overrides.cache;
    } else if (config.redisUrl) {
      const client = createRedisClient(config.redisUrl, logger);
      redis = client;
      client.on('error', () => metrics.redisErrors.inc({ kind: 'connection' }));
      closers.push(() => client.quit().catch(() => client.disconnect()));
      cache = createRedisCache(client, logger);
    } else {
      cache = createMemoryCache();
      ownAuthStore = createExpiringStore();
    }
    cache = instrumentCache(cache, metrics);
    const authStore = ownAuthStore ? instrumentCache(ownAuthStore, metrics) : cache;

    let detector: Detector | null;
    let modelError: string | null = null;
    if (overrides.detector !== undefined) {
      detector = overrides.detector;
    } else {
      try {
        detector = await loadDetector(config, logger, {
          onRemoteRequest: (server, outcome) => metrics.remoteInferenceRequests.inc({ server, outcome }),
        });
        closers.push(() => detector!.close());
      } catch (err) {
        // The service still starts (history, admin, health); recognition answers 503.
        detector = null;
        modelError = (err as Error).message;
        logger.error({ modelPath: config.model.path, err: modelError }, 'model could not be loaded');
      }
    }
    if (detector) detector = instrumentDetector(detector, metrics, isRemoteDetector(detector) ? 'remote' : 'onnx');

    const jwtSecret = config.jwtSecret ?? localJwtSecret(config.dataDir, logger);
    const health = createHealthService({
      database,
      cache,
      redisConfigured: config.redisUrl !== null,
      model: () => withRemoteReadiness(modelStatusOf(detector, config.model.path, modelError), detector),
    });

    const db = database.db;
    const media = overrides.media ?? createFsMediaStore({ root: config.mediaDir });
    const repositories = {
      operations: createOperationsRepository(db),
      custody: createKitCustodyRepository(db),
      predictions: createPredictionsRepository(db),
      jobs: createJobsRepository(db),
    };
    const annotate = (request: AnnotationRequest) => annotateImage({ ...request, fontPath: FONT_PATH });
    const recognition = instrumentRecognition(
      createRecognitionService({
        detector,
        catalog: createRecognitionCatalog(db),
        annotate,
        settings: config.recognition,
        logger,
        ...(config.resultCacheTtlSeconds > 0
          ? { detectionCache: createDetectionCache({ cache, ttlSeconds: config.resultCacheTtlSeconds, logger }) }
          : {}),
      }),
      metrics,
    );
    const seedRegister = createSeedRegister(db);
    const predictions = createPredictionService({ recognition, annotate, media, predictions: repositories.predictions, seedRegister, logger });
    const batch = createBatchService({
      predictions,
      recognition,
      seedRegister,
      modelReady: () => detector !== null,
      zipLimits: config.jobs.zip,
      syncLimit: config.jobs.syncBatchLimit,
      logger,
    });
    const jobs = createJobs({
      config,
      jobs: repositories.jobs,
      predictionRows: repositories.predictions,
      predictions,
      recognition,
      media,
      metrics,
      clock,
      logger,
      ...(overrides.jobQueue ? { queue: overrides.jobQueue } : {}),
    });
    // Registered after the detector and database: the queue drains before they close.
    closers.push(() => jobs.close());
    const operations = instrumentOperations(
      createOperationService({
        recognition,
        media,
        operations: repositories.operations,
        custody: repositories.custody,
        findUser: (id) => findUserById(db, id),
        transaction: (fn) => db.transaction(fn),
        clock,
        logger,
        matchThreshold: config.recognition.matchThreshold,
      }),
      metrics,
    );
    const mediaAccess = createMediaAccessService({
      media,
      operations: repositories.operations,
      predictions: repositories.predictions,
      drawDeferred: predictions.drawDeferred,
    });

    // Signed image URLs: keyed from the JWT secret, so every API process signs and checks alike.
    const mediaUrls = createMediaUrlSigner({ secret: jwtSecret, ttlSeconds: config.mediaUrlTtlSeconds, clock });

    const refreshTokens = createRefreshTokens({ cache: authStore, clock, ttlSeconds: config.refreshTokenTtlSeconds });
    const auth = createAuthService({
      db,
      cache: authStore,
      clock,
      logger,
      accessTokens: createAccessTokens({ secret: jwtSecret, ttlSeconds: config.accessTokenTtlSeconds, clock }),
      refreshTokens,
      rateLimiter: createLoginRateLimiter({ cache: authStore }),
    });
    const users = createUsersService({ db, clock, refreshTokens });
    const tools = createToolsService({ db });
    const toolkits = createToolkitsService({ db, clock, overdueHours: config.kitOverdueHours });
    const modelSettings = createModelSettingsService({ db, clock });

    return {
      config,
      logger,
      metrics,
      media,
      repositories,
      clock,
      database,
      db,
      cache,
      authStore,
      redis,
      detector,
      jwtSecret,
      mediaUrls,
      jobs,
      services: { health, recognition, predictions, operations, mediaAccess, auth, users, tools, toolkits, modelSettings, batch, jobs: jobs.service, retention: jobs.retention },
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}

export type Deps = Awaited<ReturnType<typeof createDeps>>;

/**
 * Without JWT_SECRET a single-node install keeps a generated secret in DATA_DIR so
 * tokens survive restarts. Several processes must share JWT_SECRET instead.
 */
function localJwtSecret(dataDir: string, logger: Logger): string {
  const file = path.join(dataDir, 'jwt-secret');
  try {
    return fs.readFileSync(file, 'utf8').trim();
  } catch {
    fs.mkdirSync(dataDir, { recursive: true });
    const secret = crypto.randomBytes(48).toString('base64url');
    fs.writeFileSync(file, secret, { mode: 0o600 });
    logger.info({ file }, 'JWT_SECRET not set; generated one for this data folder');
    return secret;
  }
}

import type { Cache } from '../cache/cache.js';
import type { Database } from '../db/client.js';
import type { ModelStatus } from '../ml/model-status.js';

export interface HealthReport {
  status: 'ok' | 'degraded' | 'down';
  postgres: { ok: boolean; kind: 'pglite' | 'postgres'; latency_ms: number | null; error?: string };
  redis: { ok: boolean } | 'not_configured';
  model: ModelStatus;
}

export function createHealthService(deps: { database: Database; cache: Cache; redisConfigured: boolean; model: () => ModelStatus }) {
  return {
    async check(): Promise<HealthReport> {
      const [postgres, redisOk] = await Promise.all([
        deps.database.ping().then(
          (latency) => ({ ok: true, kind: deps.database.kind, latency_ms: latency }),
          (err: Error) => ({ ok: false, kind: deps.database.kind, latency_ms: null, error: err.message }),
        ),
        deps.redisConfigured ? deps.cache.ping() : Promise.resolve(null),
      ]);
      const model = deps.model();
      const redis = redisOk === null ? ('not_configured' as const) : { ok: redisOk };
      // The database is the one thing the service cannot work without.
      const status = !postgres.ok ? 'down' : (redisOk === false || !model.loaded ? 'degraded' : 'ok');
      return { status, postgres, redis, model };
    },
  };
}

export type HealthService = ReturnType<typeof createHealthService>;

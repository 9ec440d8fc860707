import type { Cache } from '../cache/cache.js';
import type { Database } from '../db/client.js';
import type { ModelStatus } from '../ml/model-status.js';

export type ConnectionState = 'connected' | 'disconnected';

export interface HealthReport {
  status: 'ok' | 'degraded' | 'down';
  postgres: { ok: boolean; kind: 'pglite' | 'postgres'; latency_ms: number | null; error?: string };
  redis: { ok: boolean } | 'not_configured';
  /** The seed backend's shape (its base.py), for its clients: the same checks as `postgres` and `redis`. */
  services: { postgresql: ConnectionState; redis: ConnectionState | 'not_configured' };
  /** `path` is the model's file name only: the report is public, the server's directories are not. */
  model: ModelStatus;
}

/** The last segment of a file path or URL (`/srv/models/best.onnx` → `best.onnx`). */
export function fileNameOf(location: string): string {
  return location.split(/[\\/]/).filter(Boolean).pop() ?? location;
}

/** The status with its path cut to the file name, also where an error message quotes it. */
export function publicModelStatus(status: ModelStatus): ModelStatus {
  const file = fileNameOf(status.path);
  if (status.loaded) return { ...status, path: file };
  const error = file !== status.path ? status.error.split(status.path).join(file) : status.error;
  return { ...status, path: file, error };
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
      const model = publicModelStatus(deps.model());
      const redis = redisOk === null ? ('not_configured' as const) : { ok: redisOk };
      const services = {
        postgresql: postgres.ok ? ('connected' as const) : ('disconnected' as const),
        redis: redisOk === null ? ('not_configured' as const) : redisOk ? ('connected' as const) : ('disconnected' as const),
      };
      // The database is the one thing the service cannot work without.
      const status = !postgres.ok ? 'down' : (redisOk === false || !model.loaded ? 'degraded' : 'ok');
      return { status, postgres, redis, services, model };
    },
  };
}

export type HealthService = ReturnType<typeof createHealthService>;

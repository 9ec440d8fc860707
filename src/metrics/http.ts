/**
 * Fastify hooks feeding the metrics: request latency by route pattern, and database
 * errors seen by any route. Registered on the root instance so every route is covered.
 */
import type { FastifyInstance } from 'fastify';
import { classifyDatabaseError } from './instrument.js';
import type { Metrics } from './metrics.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The `route` label for a family of routes that would each get their own (one per web app file). */
    metricsRoute?: string;
  }
}

export function registerHttpMetrics(app: FastifyInstance, metrics: Metrics): void {
  app.addHook('onResponse', async (request, reply) => {
    // The pattern (`/media/:filename`), so the label set stays small; 404s share one label.
    const route = request.routeOptions.config?.metricsRoute ?? request.routeOptions.url ?? 'unmatched';
    metrics.httpRequestDuration.observe(
      { method: request.method, route, status_code: String(reply.statusCode) },
      reply.elapsedTime / 1000,
    );
  });
  app.addHook('onError', async (_request, _reply, error) => {
    const kind = classifyDatabaseError(error);
    if (kind) metrics.dbErrors.inc({ kind });
  });
}

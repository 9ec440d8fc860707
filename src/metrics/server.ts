/**
 * A small HTTP listener with only GET /metrics, for processes that serve no API (the
 * worker, WORKER_METRICS_PORT): the same route as the API's, so the same Prometheus text,
 * the same METRICS_TOKEN rule and the same problem+json refusals.
 */
import Fastify, { type FastifyBaseLogger } from 'fastify';
import { registerErrorHandler } from '../api/plugins/error-handler.js';
import { metricsRoutes } from '../api/routes/metrics.js';
import { ProblemSchema } from '../api/schemas/common.js';
import type { Logger } from '../shared/logger.js';
import type { Metrics } from './metrics.js';

export interface MetricsServerOptions {
  metrics: Metrics;
  /** Null: loopback clients only, as for the API. */
  token: string | null;
  port: number;
  host: string;
  logger: Logger;
}

export interface MetricsServer {
  /** The bound port (useful with port 0). */
  port: number;
  close(): Promise<void>;
}

export async function startMetricsServer(options: MetricsServerOptions): Promise<MetricsServer> {
  const app = Fastify({
    loggerInstance: options.logger as FastifyBaseLogger,
    // Scrapes and health checks every few seconds would drown the worker's own log lines.
    disableRequestLogging: true,
  });
  app.addSchema(ProblemSchema);
  registerErrorHandler(app);
  await app.register(metricsRoutes, { metrics: options.metrics, token: options.token });
  await app.listen({ port: options.port, host: options.host });
  const address = app.server.address();
  return {
    port: typeof address === 'object' && address ? address.port : options.port,
    close: () => app.close(),
  };
}

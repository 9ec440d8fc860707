/**
 * GET /metrics in the Prometheus text format. With METRICS_TOKEN set, callers present it
 * as a Bearer token; without it, only clients on the loopback interface are answered
 * (requests relayed by a proxy, i.e. carrying X-Forwarded-For, are refused).
 */
import crypto from 'node:crypto';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import type { Metrics } from '../../metrics/metrics.js';
import { ForbiddenError, UnauthorizedError } from '../../shared/errors.js';
import { problems } from '../schemas/common.js';

export interface MetricsRouteOptions {
  metrics: Metrics;
  /** Null: loopback clients only. */
  token: string | null;
}

export const metricsRoutes: FastifyPluginAsyncTypebox<MetricsRouteOptions> = async (app, { metrics, token }) => {
  app.get(
    '/metrics',
    {
      schema: {
        tags: ['service'],
        summary: 'Prometheus metrics',
        description:
          'Prometheus text exposition format. With `METRICS_TOKEN` set, send `Authorization: Bearer <token>`; ' +
          'without it, only clients connecting from the loopback interface (not through a proxy) are answered.',
        security: [{ bearerAuth: [] }],
        produces: ['text/plain'],
        response: {
          200: Type.String({ description: 'Metrics in the Prometheus text format' }),
          ...problems(401, 403),
        },
      },
    },
    async (request, reply) => {
      authorize(request, token);
      const { contentType, body } = await metrics.render();
      return reply.header('content-type', contentType).header('cache-control', 'no-store').send(body);
    },
  );
};

function authorize(request: FastifyRequest, token: string | null): void {
  if (token !== null) {
    const header = request.headers.authorization ?? '';
    const presented = /^Bearer\s+(.+)$/i.exec(header)?.[1]?.trim() ?? '';
    if (!safeEqual(presented, token)) {
      throw new UnauthorizedError('metrics.unauthorized', 'A valid metrics token is required (Authorization: Bearer …)');
    }
    return;
  }
  // request.ip honours X-Forwarded-For (trustProxy); the socket address does not.
  if (!isLoopback(request.socket.remoteAddress) || request.headers['x-forwarded-for'] !== undefined) {
    throw new ForbiddenError('metrics.forbidden', 'Metrics are served to loopback clients only; set METRICS_TOKEN for remote scrapers');
  }
}

function safeEqual(a: string, b: string): boolean {
  const left = crypto.createHash('sha256').update(a).digest();
  const right = crypto.createHash('sha256').update(b).digest();
  return crypto.timingSafeEqual(left, right);
}

function isLoopback(address: string | undefined): boolean {
  if (!address) return false;
  return address === '::1' || /^(::ffff:)?127\./.test(address);
}

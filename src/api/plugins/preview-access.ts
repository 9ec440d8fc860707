/**
 * Who may run a preview (/predict/, /predict/batch, /predict/zip): PREVIEW_AUTH.
 *
 * `token` (default): an access token, like every other API route.
 * `none` (seed 000's frontend has no login): no token needed; a token that is sent is
 * still checked and the preview is then its user's. Requests without a token are
 * limited per client address (PREVIEW_RATE_LIMIT a minute, 429 + Retry-After beyond);
 * their previews are recorded with no owner. Register `registerPreviewRateLimit` in a
 * scope holding the preview routes only: nothing else is limited or opened.
 */
import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance, FastifyRequest, preHandlerAsyncHookHandler } from 'fastify';
import type { Config } from '../../config/index.js';
import { AppError } from '../../shared/errors.js';
import { authenticate, type AuthUser } from './auth.js';

export interface PreviewAccess {
  preHandler: preHandlerAsyncHookHandler;
  /** OpenAPI: a bearer token, or (PREVIEW_AUTH=none) nothing. */
  security: Array<Record<string, string[]>>;
  anonymous: boolean;
}

export function previewAccess(config: Pick<Config, 'preview'>): PreviewAccess {
  const anonymous = config.preview.auth === 'none';
  return {
    anonymous,
    preHandler: authenticate({ optional: anonymous }),
    security: anonymous ? [{ bearerAuth: [] }, {}] : [{ bearerAuth: [] }],
  };
}

/** The caller's id, or null for an anonymous preview. */
export function previewUserId(request: FastifyRequest): number | null {
  return (request.user as AuthUser | null)?.id ?? null;
}

/** 429 for an anonymous client past its previews of the minute (Retry-After set by the plugin). */
export class PreviewRateLimitedError extends AppError {
  constructor(retryAfterSeconds: number, perMinute: number) {
    super(
      429,
      'preview.rate_limited',
      `Too many previews without a token from this address (${perMinute} a minute); try again in ${retryAfterSeconds} s, or log in`,
      { retry_after: retryAfterSeconds },
    );
  }
}

/**
 * Anonymous previews limited per client address (request.ip: with TRUST_PROXY, from
 * X-Forwarded-For). Requests with an Authorization header are not counted: they are
 * authenticated (or refused with 401) instead. Counted per API process.
 */
export async function registerPreviewRateLimit(scope: FastifyInstance, config: Pick<Config, 'preview'>): Promise<void> {
  if (config.preview.auth !== 'none') return;
  const perMinute = config.preview.rateLimitPerMinute;
  await scope.register(rateLimit, {
    global: true,
    max: perMinute,
    timeWindow: 60_000,
    allowList: (request) => request.headers.authorization !== undefined,
    addHeadersOnExceeding: { 'x-ratelimit-limit': true, 'x-ratelimit-remaining': true, 'x-ratelimit-reset': true },
    addHeaders: { 'x-ratelimit-limit': true, 'x-ratelimit-remaining': true, 'x-ratelimit-reset': true, 'retry-after': true },
    errorResponseBuilder: (_request, context) => new PreviewRateLimitedError(Math.max(1, Math.ceil(context.ttl / 1000)), perMinute),
  });
}

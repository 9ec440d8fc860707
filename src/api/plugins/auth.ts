/**
 * Bearer-token authentication and role checks for routes.
 *
 *   app.get('/x', { preHandler: [authenticate(), requireRole('admin', 'storekeeper')] }, ...)
 *   app.get('/y', { preHandler: requireRole('admin') }, ...)        // authenticates too
 *   app.get('/media/:f', { preHandler: authenticate({ allowQueryToken: true }) }, ...)
 *
 * After `authenticate`, `request.user` is the caller ({ id, role, employeeNumber, fullName });
 * with `{ optional: true }` it is null when no token was sent.
 * Every failure is a 401 problem with `WWW-Authenticate: Bearer`; a wrong role is a 403;
 * a 503 (`auth.store_unavailable`) when revocations cannot be checked (Redis away).
 */
import type { FastifyInstance, FastifyReply, FastifyRequest, preHandlerAsyncHookHandler } from 'fastify';
import type { UserRole } from '../../db/schema/index.js';
import type { AuthUser } from '../../services/auth-service.js';
import { ForbiddenError, UnauthorizedError } from '../../shared/errors.js';

export type { AuthUser };

/** What the plugin needs: turn an access token into its user, or throw UnauthorizedError. */
export interface TokenAuthenticator {
  authenticate(accessToken: string): Promise<AuthUser>;
}

declare module 'fastify' {
  interface FastifyInstance {
    tokenAuthenticator: TokenAuthenticator;
  }
  interface FastifyRequest {
    /** Set by `authenticate()`; read it only on routes that use it (null before). */
    user: AuthUser;
  }
}

/** Call once on the root instance, before the routes. */
export function registerAuth(app: FastifyInstance, authenticator: TokenAuthenticator): void {
  app.decorate('tokenAuthenticator', authenticator);
  app.decorateRequest('user', null as unknown as AuthUser);
}

export interface AuthenticateOptions {
  /**
   * Also accept `?access_token=` (only for GET media and server-sent-event routes:
   * browsers cannot set headers on <img> and EventSource). The header wins when both are present.
   */
  allowQueryToken?: boolean;
  /**
   * No token at all is fine: `request.user` stays null (anonymous previews, PREVIEW_AUTH=none).
   * A token that is sent must still be valid (401 otherwise).
   */
  optional?: boolean;
}

/** The token of an `Authorization: Bearer …` header; undefined without one, null when malformed. */
export function bearerToken(request: FastifyRequest): string | null | undefined {
  const header = request.headers.authorization;
  if (header === undefined) return undefined;
  const match = /^Bearer[ ]+([A-Za-z0-9\-_.~+/]+=*)\s*$/i.exec(header);
  return match ? match[1]! : null;
}

function queryToken(request: FastifyRequest): string | undefined {
  const query = request.url.indexOf('?');
  if (query === -1) return undefined;
  return new URLSearchParams(request.url.slice(query + 1)).get('access_token') ?? undefined;
}

function challenge(reply: FastifyReply, error?: 'invalid_token'): void {
  reply.header('www-authenticate', error ? `Bearer realm="toolcontrol", error="${error}"` : 'Bearer realm="toolcontrol"');
}

export function authenticate(options: AuthenticateOptions = {}): preHandlerAsyncHookHandler {
  const allowQuery = options.allowQueryToken === true;
  return async function authenticateHook(request, reply) {
    let token = bearerToken(request);
    if (token === undefined && allowQuery && (request.method === 'GET' || request.method === 'HEAD')) token = queryToken(request);
    if (token === null) {
      challenge(reply, 'invalid_token');
      throw new UnauthorizedError('auth.invalid_token', 'The Authorization header must be `Bearer <token>`');
    }
    if (!token) {
      if (options.optional === true) return;
      challenge(reply);
      throw new UnauthorizedError('auth.missing_token', 'This route needs an access token (Authorization: Bearer <token>)');
    }
    try {
      request.user = await request.server.tokenAuthenticator.authenticate(token);
    } catch (err) {
      if (err instanceof UnauthorizedError) challenge(reply, 'invalid_token');
      throw err;
    }
  };
}

const authenticateFromHeader = authenticate();

/** 403 unless the caller has one of `roles`; authenticates first when no earlier hook did. */
export function requireRole(...roles: UserRole[]): preHandlerAsyncHookHandler {
  if (roles.length === 0) throw new Error('requireRole needs at least one role');
  return async function requireRoleHook(this: FastifyInstance, request, reply) {
    if (!request.user) await authenticateFromHeader.call(this, request, reply);
    if (!roles.includes(request.user.role)) {
      throw new ForbiddenError('auth.forbidden', `This action needs the role ${roles.join(' or ')}`);
    }
  };
}

/** Every role: any logged-in user. */
export const ALL_ROLES: readonly UserRole[] = ['admin', 'storekeeper', 'engineer'];

/** OpenAPI: mark a route as needing a bearer token. */
export const bearerSecurity = [{ bearerAuth: [] as string[] }];

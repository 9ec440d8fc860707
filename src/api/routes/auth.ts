/** /auth: login, token refresh, logout, the caller, and changing one's own password. */
import type { FastifyReply } from 'fastify';
import { Type } from 'typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Deps } from '../../deps.js';
import type { TokenPair } from '../../services/auth-service.js';
import { RateLimitedError } from '../../services/login-rate-limiter.js';
import { authenticate, bearerSecurity, bearerToken } from '../plugins/auth.js';
import { ChangePasswordBody, LoginBody, OkResponse, RefreshBody, TokenResponse } from '../schemas/auth.js';
import { problems } from '../schemas/common.js';
import { userDto, UserSchema } from '../schemas/users.js';

/** `ok` as before, and the new session's tokens: the old ones were signed out with the rest. */
const PasswordChangedResponse = Type.Intersect([OkResponse, TokenResponse]);

function tokenResponse(pair: TokenPair) {
  return {
    access_token: pair.accessToken,
    token_type: 'bearer' as const,
    expires_in: pair.expiresIn,
    refresh_token: pair.refreshToken,
    refresh_expires_in: pair.refreshExpiresIn,
    user: userDto(pair.user),
  };
}

/** A 429 tells the client when to come back. */
async function withRetryAfter<T>(reply: FastifyReply, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    if (err instanceof RateLimitedError) reply.header('retry-after', String(err.retryAfterSeconds));
    throw err;
  }
}

export const authRoutes: FastifyPluginAsyncTypebox<{ deps: Deps }> = async (app, { deps }) => {
  const auth = deps.services.auth;
  app.addSchema(UserSchema);

  app.post(
    '/auth/login',
    {
      schema: {
        tags: ['auth'],
        summary: 'Log in with employee number and password',
        description:
          'Returns a short-lived access token (Bearer JWT) and a single-use refresh token. ' +
          'After 5 failed attempts on an account within a minute (20 from one IP) further attempts get 429 with Retry-After.',
        body: LoginBody,
        response: { 200: TokenResponse, ...problems(400, 401, 429) },
      },
    },
    async (request, reply) =>
      tokenResponse(await withRetryAfter(reply, () => auth.login(request.body.employee_number, request.body.password, request.ip))),
  );

  app.post(
    '/auth/refresh',
    {
      schema: {
        tags: ['auth'],
        summary: 'Exchange a refresh token for new tokens',
        description:
          'The refresh token is spent: use the one returned. Presenting a spent token again revokes every token of its session (401).',
        body: RefreshBody,
        response: { 200: TokenResponse, ...problems(400, 401) },
      },
    },
    async (request) => tokenResponse(await auth.refresh(request.body.refresh_token)),
  );

  app.post(
    '/auth/logout',
    {
      schema: {
        tags: ['auth'],
        summary: 'Log out: revoke the session of a refresh token',
        description: 'Every access token issued in that session stops working at once. Unknown tokens are ignored.',
        body: RefreshBody,
        response: { 200: OkResponse, ...problems(400) },
      },
    },
    async (request) => {
      await auth.logout(request.body.refresh_token, bearerToken(request) ?? null);
      return { ok: true as const };
    },
  );

  app.get(
    '/auth/me',
    {
      preHandler: authenticate(),
      schema: {
        tags: ['auth'],
        summary: 'The logged-in user',
        security: bearerSecurity,
        response: { 200: UserSchema, ...problems(401) },
      },
    },
    async (request) => userDto(await auth.me(request.user.id)),
  );

  app.post(
    '/auth/password',
    {
      preHandler: authenticate(),
      schema: {
        tags: ['auth'],
        summary: 'Change your own password',
        description:
          'Needs the current password. Signs out every session of yours, this one included: ' +
          'the access and refresh tokens used so far stop working. Continue with the new tokens returned. ' +
          'Wrong current passwords count towards the login limit (429 with Retry-After).',
        security: bearerSecurity,
        body: ChangePasswordBody,
        response: { 200: PasswordChangedResponse, ...problems(400, 401, 429) },
      },
    },
    async (request, reply) => {
      const pair = await withRetryAfter(reply, () =>
        auth.changeOwnPassword(request.user.id, request.body.old_password, request.body.new_password, request.ip),
      );
      return { ok: true as const, ...tokenResponse(pair) };
    },
  );
};

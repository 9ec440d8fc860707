/**
 * /auth: login, token refresh, logout, the caller, and changing one's own password.
 *
 * API clients get both tokens in the JSON body. Browsers log in with `cookie: true`: the
 * refresh token then lives in an HttpOnly cookie that page scripts never see, sent only to
 * /auth (SameSite=Strict); refresh and logout take it from there when the body has none,
 * and every answer that rotates it sets the cookie again instead of putting it in the body.
 *
 * SameSite=Strict keeps the cookie from cross-site requests only: a page on another port of
 * the same host, or on a sibling subdomain, is same-site and gets it sent. So a request that the
 * cookie would authenticate is refused (403 `auth.cross_site`) unless it comes from this origin;
 * see `assertSameOrigin`. Tokens in the body (API clients) are not affected.
 */
import cookie from '@fastify/cookie';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Deps } from '../../deps.js';
import type { TokenPair } from '../../services/auth-service.js';
import { RateLimitedError } from '../../services/login-rate-limiter.js';
import { ForbiddenError, UnauthorizedError } from '../../shared/errors.js';
import { authenticate, bearerSecurity, bearerToken } from '../plugins/auth.js';
import { ChangePasswordBody, LoginBody, OkResponse, RefreshBody, TokenResponse } from '../schemas/auth.js';
import { problems } from '../schemas/common.js';
import { userDto, UserSchema } from '../schemas/users.js';

/** `ok` as before, and the new session's tokens: the old ones were signed out with the rest. */
const PasswordChangedResponse = Type.Intersect([OkResponse, TokenResponse]);

/** The browser's refresh token. */
export const REFRESH_COOKIE = 'toolcontrol_refresh';
/** Sent with /auth requests only: refresh, logout and password change are the ones that read it. */
const REFRESH_COOKIE_PATH = '/auth';

/** Secure when the client's connection is HTTPS (behind a proxy: its X-Forwarded-Proto, with TRUST_PROXY). */
function refreshCookieOptions(request: FastifyRequest) {
  return { httpOnly: true, sameSite: 'strict' as const, path: REFRESH_COOKIE_PATH, secure: request.protocol === 'https' };
}

function setRefreshCookie(reply: FastifyReply, pair: TokenPair): void {
  reply.setCookie(REFRESH_COOKIE, pair.refreshToken, { ...refreshCookieOptions(reply.request), maxAge: pair.refreshExpiresIn });
}

/** Max-Age=0 on the same path: the browser drops it. */
function clearRefreshCookie(reply: FastifyReply): void {
  reply.clearCookie(REFRESH_COOKIE, refreshCookieOptions(reply.request));
}

/** The refresh token of a refresh or logout: the body's, else the cookie's. */
function presentedRefreshToken(
  request: FastifyRequest,
  body: { refresh_token?: string },
): { token: string | null; fromCookie: boolean } {
  if (body.refresh_token !== undefined) return { token: body.refresh_token, fromCookie: false };
  const fromCookie = request.cookies[REFRESH_COOKIE];
  return fromCookie ? { token: fromCookie, fromCookie: true } : { token: null, fromCookie: false };
}

/** `scheme://host[:port]` as browsers send it in Origin (default port left out); null when unparsable. */
function normalisedOrigin(value: string): string | null {
  try {
    const url = new URL(value);
    return url.protocol === 'http:' || url.protocol === 'https:' ? url.origin : null;
  } catch {
    return null;
  }
}

/**
 * Before the refresh cookie is used: the request must come from a page of this origin.
 * A browser that sends `Sec-Fetch-Site` decides it (it must be `same-origin`; no page script
 * can set or change it), so a TLS-terminating proxy that rewrites scheme, host or port does not
 * lock real users out. Only without it is `Origin` compared with this service's own scheme,
 * host and port (`request.protocol` and `request.host`, which honour TRUST_PROXY). A request
 * with neither is no browser's: allowed.
 */
function assertSameOrigin(request: FastifyRequest): void {
  if (!fromThisOrigin(request)) {
    throw new ForbiddenError(
      'auth.cross_site',
      'The toolcontrol_refresh cookie is only accepted from pages of this origin; API clients send refresh_token in the body',
    );
  }
}

function fromThisOrigin(request: FastifyRequest): boolean {
  const site = request.headers['sec-fetch-site'];
  if (site !== undefined) return site === 'same-origin';
  const origin = request.headers.origin;
  if (origin === undefined) return true;
  // An opaque origin ("null": sandboxed frames, file: pages) matches nothing.
  const own = normalisedOrigin(`${request.protocol}://${request.host}`);
  return own !== null && normalisedOrigin(origin) === own;
}

/** A request without a body reads as `{}`: browsers refresh and log out with the cookie alone. */
async function absentBodyIsEmpty(request: FastifyRequest): Promise<void> {
  if (request.body === undefined || request.body === null) request.body = {};
}

/** `inCookie`: the refresh token went into the cookie, so the body leaves it out. */
function tokenResponse(pair: TokenPair, inCookie = false) {
  return {
    access_token: pair.accessToken,
    token_type: 'bearer' as const,
    expires_in: pair.expiresIn,
    ...(inCookie ? {} : { refresh_token: pair.refreshToken }),
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
  // Only these routes read or write cookies.
  await app.register(cookie);

  app.post(
    '/auth/login',
    {
      schema: {
        tags: ['auth'],
        summary: 'Log in with employee number and password',
        description:
          'Returns a short-lived access token (Bearer JWT) and a single-use refresh token. ' +
          'With `cookie: true` (browsers) the refresh token is not in the body but in the cookie `toolcontrol_refresh` ' +
          '(HttpOnly; SameSite=Strict; Path=/auth; Max-Age=refresh_expires_in; Secure over HTTPS). ' +
          'After 5 failed attempts on an account within a minute (20 from one IP) further attempts get 429 with Retry-After.',
        body: LoginBody,
        response: { 200: TokenResponse, ...problems(400, 401, 429) },
      },
    },
    async (request, reply) => {
      const pair = await withRetryAfter(reply, () => auth.login(request.body.employee_number, request.body.password, request.ip));
      const inCookie = request.body.cookie === true;
      if (inCookie) setRefreshCookie(reply, pair);
      return tokenResponse(pair, inCookie);
    },
  );

  app.post(
    '/auth/refresh',
    {
      preValidation: absentBodyIsEmpty,
      schema: {
        tags: ['auth'],
        summary: 'Exchange a refresh token for new tokens',
        description:
          'The refresh token is spent: use the one returned. Presenting a spent token again revokes every token of its session (401). ' +
          'Without `refresh_token` in the body (the body may be left out) the cookie `toolcontrol_refresh` is spent, and the next ' +
          'token goes back into the cookie, not the body; a cookie that is refused (401) is cleared. Neither: 401 `auth.refresh_missing`. ' +
          'The cookie is accepted only from pages of this origin (403 `auth.cross_site`).',
        body: RefreshBody,
        response: { 200: TokenResponse, ...problems(400, 401, 403) },
      },
    },
    async (request, reply) => {
      const { token, fromCookie } = presentedRefreshToken(request, request.body);
      if (token === null) {
        throw new UnauthorizedError(
          'auth.refresh_missing',
          'No refresh token: send refresh_token in the body, or the toolcontrol_refresh cookie set by a login with cookie: true',
        );
      }
      // Refused before anything is spent or cleared: the cookie stays good for this origin.
      if (fromCookie) assertSameOrigin(request);
      let pair: TokenPair;
      try {
        pair = await auth.refresh(token);
      } catch (err) {
        // Spent, revoked or unknown: the browser must not keep sending it.
        if (fromCookie && err instanceof UnauthorizedError) clearRefreshCookie(reply);
        throw err;
      }
      if (fromCookie) setRefreshCookie(reply, pair);
      return tokenResponse(pair, fromCookie);
    },
  );

  app.post(
    '/auth/logout',
    {
      preValidation: absentBodyIsEmpty,
      schema: {
        tags: ['auth'],
        summary: 'Log out: revoke the session of a refresh token',
        description:
          'Every access token issued in that session stops working at once. Unknown tokens are ignored. ' +
          'The token is the body\'s `refresh_token`, else the cookie `toolcontrol_refresh` (the body may be left out); ' +
          'the cookie is always cleared. With the cookie, only from pages of this origin (403 `auth.cross_site`, nothing revoked or cleared).',
        body: RefreshBody,
        response: { 200: OkResponse, ...problems(400, 403) },
      },
    },
    async (request, reply) => {
      const { token, fromCookie } = presentedRefreshToken(request, request.body);
      // A cross-site page must not end this browser's session: nothing revoked, the cookie kept.
      if (fromCookie) assertSameOrigin(request);
      // Even when the session cannot be revoked right now (503): this browser is logged out.
      clearRefreshCookie(reply);
      await auth.logout(token, bearerToken(request) ?? null);
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
          'A request that carries the cookie `toolcontrol_refresh` gets the new refresh token in that cookie, not in the body. ' +
          'Wrong current passwords count towards the login limit (429 with Retry-After).',
        security: bearerSecurity,
        body: ChangePasswordBody,
        response: { 200: PasswordChangedResponse, ...problems(400, 401, 403, 429) },
      },
    },
    async (request, reply) => {
      const inCookie = Boolean(request.cookies[REFRESH_COOKIE]);
      // Checked before the password is: a refused request changes nothing and counts no attempt.
      if (inCookie) assertSameOrigin(request);
      const pair = await withRetryAfter(reply, () =>
        auth.changeOwnPassword(request.user.id, request.body.old_password, request.body.new_password, request.ip),
      );
      if (inCookie) setRefreshCookie(reply, pair);
      return { ok: true as const, ...tokenResponse(pair, inCookie) };
    },
  );
};

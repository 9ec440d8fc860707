/**
 * Login, token refresh and logout, and who a bearer token belongs to.
 *
 * Access tokens are short-lived JWTs; every request re-reads the user, so a
 * deactivation or a role change applies at once, and checks the token against the
 * revocations in the auth store, failing closed (503) when that store cannot be read.
 * Refresh tokens rotate (refresh-tokens.ts).
 */
import crypto from 'node:crypto';
import { CacheUnavailableError, type Cache } from '../cache/cache.js';
import type { Db } from '../db/client.js';
import type { User, UserRole } from '../db/schema/index.js';
import { findUserByEmployeeNumber, findUserById, updateUser } from '../repositories/users-repository.js';
import type { Clock } from '../shared/clock.js';
import { AppError, ServiceUnavailableError, UnauthorizedError } from '../shared/errors.js';
import { hashPassword, verifyPassword } from '../shared/passwords.js';
import type { Logger } from '../shared/logger.js';
import type { AccessTokens } from './access-tokens.js';
import type { LoginRateLimiter } from './login-rate-limiter.js';
import type { IssuedRefreshToken, RefreshTokens } from './refresh-tokens.js';

/** The authenticated caller, as routes see it on `request.user`. */
export interface AuthUser {
  id: number;
  role: UserRole;
  employeeNumber: string;
  fullName: string;
}

export interface TokenPair {
  accessToken: string;
  expiresIn: number;
  refreshToken: string;
  refreshExpiresIn: number;
  user: User;
}

export function createAuthService(deps: {
  db: Db;
  /** Auth state (revoked access tokens): Redis, or an in-process store that never evicts live entries. */
  cache: Cache;
  clock: Clock;
  logger: Logger;
  accessTokens: AccessTokens;
  refreshTokens: RefreshTokens;
  rateLimiter: LoginRateLimiter;
}) {
  const { db, cache, clock, accessTokens, refreshTokens, rateLimiter } = deps;
  // Unknown logins verify against this, so they take as long as known ones.
  const dummyHash = hashPassword(crypto.randomBytes(24).toString('base64url'));
  dummyHash.catch((err: Error) => deps.logger.error({ err: err.message }, 'could not prepare the dummy password hash'));

  const invalidCredentials = () => new UnauthorizedError('auth.invalid_credentials', 'Wrong employee number or password');
  const accountDisabled = () => new UnauthorizedError('auth.account_disabled', 'This account is deactivated');
  const revokedJtiKey = (jti: string) => `auth:revoked-jti:${jti}`;

  async function tokensFor(user: User, refresh?: IssuedRefreshToken): Promise<TokenPair> {
    // The session first: the access token names it, and ends with it.
    const next = refresh ?? (await refreshTokens.issue(user.id));
    const accessToken = await accessTokens.issue(user, next.familyId);
    return {
      accessToken,
      expiresIn: accessTokens.ttlSeconds,
      refreshToken: next.token,
      refreshExpiresIn: next.expiresIn,
      user,
    };
  }

  /**
   * Whether a token was revoked (logout, password change, deactivation). A store that
   * cannot be read (Redis down) is a 503, not "not revoked": fail closed, or a revoked
   * token would work for as long as Redis is away.
   */
  async function isRevoked(claims: {
    userId: number;
    jti: string;
    issuedAtMs: number;
    sessionId: string | null;
  }): Promise<'logout' | 'signed_out' | 'session_ended' | null> {
    try {
      const [revoked, signedOutAt, sessionLive] = await Promise.all([
        cache.getStrict(revokedJtiKey(claims.jti)),
        refreshTokens.signedOutAt(claims.userId),
        claims.sessionId === null ? true : refreshTokens.sessionLive(claims.sessionId),
      ]);
      if (revoked) return 'logout';
      // Its session was logged out, or revoked because its refresh token was used twice (stolen).
      if (!sessionLive) return 'session_ended';
      return signedOutAt !== null && claims.issuedAtMs < signedOutAt ? 'signed_out' : null;
    } catch (err) {
      if (!(err instanceof CacheUnavailableError)) throw err;
      // The error handler logs the 503 with the request id.
      throw new ServiceUnavailableError('auth.store_unavailable', 'Sessions cannot be checked right now; try again shortly', 5);
    }
  }

  return {
    async login(employeeNumber: string, password: string, ip: string): Promise<TokenPair> {
      // Counted before the slow verify, so concurrent guesses cannot overrun the limit.
      const attempt = await rateLimiter.reserve(employeeNumber, ip);
      let user: User | null;
      let passwordOk: boolean;
      try {
        user = await findUserByEmployeeNumber(db, employeeNumber);
        passwordOk = await verifyPassword(user?.passwordHash ?? (await dummyHash), password);
      } catch (err) {
        // Not a wrong password (the database is away…): the attempt does not count.
        await attempt.release();
        throw err;
      }
      if (!user || !passwordOk) {
        // The reserved slot stays taken: this failure counts.
        deps.logger.info({ ip, known: user !== null }, 'failed login');
        throw invalidCredentials();
      }
      if (!user.isActive) {
        await attempt.release();
        throw accountDisabled();
      }
      await attempt.succeeded();
      return tokensFor(user);
    },

    /** Spend a refresh token for a new access token and the next refresh token. */
    async refresh(refreshToken: string): Promise<TokenPair> {
      const next = await refreshTokens.rotate(refreshToken);
      const user = await findUserById(db, next.userId);
      if (!user || !user.isActive) {
        await refreshTokens.revokeFamily(next.familyId);
        throw accountDisabled();
      }
      return tokensFor(user, next);
    },

    /** Revoke the refresh token's family and, when given, the access token in use (either may be absent). */
    async logout(refreshToken: string | null, accessToken: string | null): Promise<void> {
      if (refreshToken !== null) await refreshTokens.revokeFamilyOf(refreshToken);
      if (accessToken) {
        const claims = await accessTokens.verify(accessToken).catch(() => null);
        const ttl = claims ? claims.exp - Math.floor(clock.now().getTime() / 1000) : 0;
        if (claims && ttl > 0) await cache.set(revokedJtiKey(claims.jti), '1', ttl + 5);
      }
    },

    /** Who a bearer token belongs to: a valid token of an existing, active user. */
    async authenticate(accessToken: string): Promise<AuthUser> {
      const claims = await accessTokens.verify(accessToken);
      const [user, revoked] = await Promise.all([findUserById(db, claims.userId), isRevoked(claims)]);
      if (!user) throw new UnauthorizedError('auth.invalid_token', 'The access token is invalid');
      // Deactivation also signs the user out: say which.
      if (!user.isActive) throw accountDisabled();
      if (revoked === 'logout') throw new UnauthorizedError('auth.token_revoked', 'The access token was revoked (logged out)');
      if (revoked === 'session_ended') {
        throw new UnauthorizedError('auth.token_revoked', 'The session of this access token has ended (logged out, or its refresh token was reused); log in again');
      }
      if (revoked === 'signed_out') {
        throw new UnauthorizedError('auth.token_revoked', 'The access token was revoked (password changed or sessions signed out); log in again');
      }
      return { id: user.id, role: user.role, employeeNumber: user.employeeNumber, fullName: user.fullName };
    },

    async me(userId: number): Promise<User> {
      const user = await findUserById(db, userId);
      if (!user) throw new UnauthorizedError('auth.invalid_token', 'The access token is invalid');
      return user;
    },

    /**
     * A user changes their own password. Every session of theirs is signed out, the
     * calling one included (its access and refresh tokens stop working); the caller
     * carries on with the fresh token pair returned.
     */
    async changeOwnPassword(userId: number, oldPassword: string, newPassword: string, ip: string): Promise<TokenPair> {
      const user = await findUserById(db, userId);
      if (!user) throw new UnauthorizedError('auth.invalid_token', 'The access token is invalid');
      const attempt = await rateLimiter.reserve(user.employeeNumber, ip);
      let passwordOk: boolean;
      try {
        passwordOk = await verifyPassword(user.passwordHash, oldPassword);
      } catch (err) {
        // Not a wrong password: the attempt does not count (as in login).
        await attempt.release();
        throw err;
      }
      if (!passwordOk) throw new AppError(400, 'auth.wrong_password', 'The current password is wrong');
      await attempt.succeeded();
      const updated = await updateUser(db, userId, { passwordHash: await hashPassword(newPassword) }, clock.now());
      await refreshTokens.revokeAllForUser(userId);
      // Issued after the sign-out time, so the new session survives it.
      return tokensFor(updated ?? user);
    },
  };
}

export type AuthService = ReturnType<typeof createAuthService>;

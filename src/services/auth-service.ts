/**
 * Login, token refresh and logout, and who a bearer token belongs to.
 *
 * Access tokens are short-lived JWTs; every request re-reads the user, so a
 * deactivation or a role change applies at once. Refresh tokens rotate (refresh-tokens.ts).
 */
import crypto from 'node:crypto';
import type { Cache } from '../cache/cache.js';
import type { Db } from '../db/client.js';
import type { User, UserRole } from '../db/schema/index.js';
import { findUserByEmployeeNumber, findUserById, updateUser } from '../repositories/users-repository.js';
import type { Clock } from '../shared/clock.js';
import { AppError, UnauthorizedError } from '../shared/errors.js';
import { hashPassword, verifyPassword } from '../shared/passwords.js';
import type { Logger } from '../shared/logger.js';
import type { AccessTokens } from './access-tokens.js';
import type { LoginRateLimiter } from './login-rate-limiter.js';
import type { RefreshTokens } from './refresh-tokens.js';

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

  async function tokensFor(user: User, refresh?: { token: string; expiresIn: number }): Promise<TokenPair> {
    const accessToken = await accessTokens.issue(user);
    const next = refresh ?? (await refreshTokens.issue(user.id));
    return {
      accessToken,
      expiresIn: accessTokens.ttlSeconds,
      refreshToken: next.token,
      refreshExpiresIn: next.expiresIn,
      user,
    };
  }

  return {
    async login(employeeNumber: string, password: string, ip: string): Promise<TokenPair> {
      await rateLimiter.check(employeeNumber, ip);
      const user = await findUserByEmployeeNumber(db, employeeNumber);
      const passwordOk = await verifyPassword(user?.passwordHash ?? (await dummyHash), password);
      if (!user || !passwordOk) {
        await rateLimiter.recordFailure(employeeNumber, ip);
        deps.logger.info({ ip, known: user !== null }, 'failed login');
        throw invalidCredentials();
      }
      if (!user.isActive) throw accountDisabled();
      await rateLimiter.recordSuccess(employeeNumber);
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

    /** Revoke the refresh token's family and, when given, the access token in use. */
    async logout(refreshToken: string, accessToken: string | null): Promise<void> {
      await refreshTokens.revokeFamilyOf(refreshToken);
      if (accessToken) {
        const claims = await accessTokens.verify(accessToken).catch(() => null);
        const ttl = claims ? claims.exp - Math.floor(clock.now().getTime() / 1000) : 0;
        if (claims && ttl > 0) await cache.set(revokedJtiKey(claims.jti), '1', ttl + 5);
      }
    },

    /** Who a bearer token belongs to: a valid token of an existing, active user. */
    async authenticate(accessToken: string): Promise<AuthUser> {
      const claims = await accessTokens.verify(accessToken);
      const [user, revoked, signedOutAt] = await Promise.all([
        findUserById(db, claims.userId),
        cache.get(revokedJtiKey(claims.jti)),
        refreshTokens.signedOutAt(claims.userId),
      ]);
      if (revoked) throw new UnauthorizedError('auth.token_revoked', 'The access token was revoked (logged out)');
      if (signedOutAt !== null && claims.iat < signedOutAt) {
        throw new UnauthorizedError('auth.token_revoked', 'The access token was revoked (password changed or sessions signed out); log in again');
      }
      if (!user) throw new UnauthorizedError('auth.invalid_token', 'The access token is invalid');
      if (!user.isActive) throw accountDisabled();
      return { id: user.id, role: user.role, employeeNumber: user.employeeNumber, fullName: user.fullName };
    },

    async me(userId: number): Promise<User> {
      const user = await findUserById(db, userId);
      if (!user) throw new UnauthorizedError('auth.invalid_token', 'The access token is invalid');
      return user;
    },

    /** A user changes their own password; every other session of theirs is signed out. */
    async changeOwnPassword(userId: number, oldPassword: string, newPassword: string, ip: string): Promise<void> {
      const user = await findUserById(db, userId);
      if (!user) throw new UnauthorizedError('auth.invalid_token', 'The access token is invalid');
      await rateLimiter.check(user.employeeNumber, ip);
      if (!(await verifyPassword(user.passwordHash, oldPassword))) {
        await rateLimiter.recordFailure(user.employeeNumber, ip);
        throw new AppError(400, 'auth.wrong_password', 'The current password is wrong');
      }
      await updateUser(db, userId, { passwordHash: await hashPassword(newPassword) }, clock.now());
      await refreshTokens.revokeAllForUser(userId);
    },
  };
}

export type AuthService = ReturnType<typeof createAuthService>;

/**
 * Short-lived access tokens: HS256 JWTs (sub, role, sid, jti, iat, iat_ms, exp, iss, aud). Only
 * HS256 is accepted, so `alg: none` and algorithm-confusion tokens fail verification.
 *
 * `iat_ms` is the issue time in milliseconds: `iat` has whole seconds, too coarse to
 * tell a token issued just before a sign-out (password reset, deactivation) from one
 * issued just after it in the same second.
 *
 * `sid` names the session (the refresh-token family) the token was issued in: when the
 * session ends (logout, a refresh token presented twice), its access tokens end with it.
 */
import crypto from 'node:crypto';
import { errors as joseErrors, jwtVerify, SignJWT } from 'jose';
import type { UserRole } from '../db/schema/index.js';
import type { Clock } from '../shared/clock.js';
import { UnauthorizedError } from '../shared/errors.js';

export const TOKEN_ISSUER = 'toolcontrol';
export const TOKEN_AUDIENCE = 'toolcontrol';
const ALGORITHM = 'HS256';

export interface AccessTokenClaims {
  userId: number;
  role: UserRole;
  jti: string;
  /** Expiry, seconds since the epoch. */
  exp: number;
  /** Issue time, seconds since the epoch. */
  iat: number;
  /** Issue time, ms since the epoch (`iat_ms`; the start of `iat`'s second for tokens without it). */
  issuedAtMs: number;
  /** The session (refresh-token family) it was issued in; null for tokens issued without one. */
  sessionId: string | null;
}

export function createAccessTokens(options: { secret: string; ttlSeconds: number; clock: Clock }) {
  const key = new TextEncoder().encode(options.secret);

  return {
    ttlSeconds: options.ttlSeconds,

    async issue(user: { id: number; role: UserRole }, sessionId?: string): Promise<string> {
      const issuedAtMs = options.clock.now().getTime();
      const iat = Math.floor(issuedAtMs / 1000);
      return new SignJWT({ role: user.role, iat_ms: issuedAtMs, ...(sessionId ? { sid: sessionId } : {}) })
        .setProtectedHeader({ alg: ALGORITHM, typ: 'JWT' })
        .setSubject(String(user.id))
        .setJti(crypto.randomUUID())
        .setIssuedAt(iat)
        .setExpirationTime(iat + options.ttlSeconds)
        .setIssuer(TOKEN_ISSUER)
        .setAudience(TOKEN_AUDIENCE)
        .sign(key);
    },

    /** The token's claims; UnauthorizedError for anything not issued by us or no longer valid. */
    async verify(token: string): Promise<AccessTokenClaims> {
      try {
        const { payload } = await jwtVerify(token, key, {
          algorithms: [ALGORITHM],
          issuer: TOKEN_ISSUER,
          audience: TOKEN_AUDIENCE,
          requiredClaims: ['sub', 'exp', 'iat', 'jti'],
          currentDate: options.clock.now(),
          clockTolerance: 5,
        });
        const userId = Number(payload.sub);
        if (!Number.isSafeInteger(userId) || userId <= 0 || typeof payload.role !== 'string' || typeof payload.jti !== 'string') {
          throw new UnauthorizedError('auth.invalid_token', 'The access token is invalid');
        }
        const iat = payload.iat!;
        // A token without iat_ms (or with one outside its second) counts from the start of its second: refused rather than let through.
        const claimedMs = payload.iat_ms;
        const issuedAtMs =
          typeof claimedMs === 'number' && Number.isSafeInteger(claimedMs) && Math.floor(claimedMs / 1000) === iat ? claimedMs : iat * 1000;
        const sessionId = typeof payload.sid === 'string' && payload.sid.length > 0 ? payload.sid : null;
        return { userId, role: payload.role as UserRole, jti: payload.jti, exp: payload.exp!, iat, issuedAtMs, sessionId };
      } catch (err) {
        if (err instanceof UnauthorizedError) throw err;
        if (err instanceof joseErrors.JWTExpired) throw new UnauthorizedError('auth.token_expired', 'The access token has expired');
        throw new UnauthorizedError('auth.invalid_token', 'The access token is invalid');
      }
    },
  };
}

export type AccessTokens = ReturnType<typeof createAccessTokens>;

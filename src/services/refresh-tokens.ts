/**
 * Rotating opaque refresh tokens kept server-side through the Cache port (Redis when
 * configured, in-process otherwise). Only a SHA-256 of a token is stored.
 *
 * Every login starts a *family*; each refresh spends the presented token and issues the
 * next one of the same family. A token spent twice means it was copied: the whole family
 * is revoked, so neither the thief nor the victim can go on refreshing (OAuth 2.0
 * Security BCP, refresh token rotation). A family lives at most `ttlSeconds` from login.
 *
 * All of a user's families are revoked at once (password change, deactivation) by
 * changing the user's *epoch*: families remember the epoch they were created in. The
 * same moment is kept as the user's sign-out time, in milliseconds: access tokens issued
 * before it are refused too (AuthService.authenticate), so a reset password cuts off a
 * stolen token at once rather than when it expires, even one issued the same second.
 *
 * The store must not drop live entries early: with Redis it is Redis, in-process it is
 * an expiring store, never the LRU result cache (an evicted epoch fails closed, but an
 * evicted sign-out time would revive revoked access tokens).
 *
 * Keys: auth:rt:<hash> → token, auth:rt-spent:<hash> → spent marker,
 * auth:rtf:<family> → family, auth:rte:<user> → epoch, auth:rto:<user> → sign-out time.
 */
import crypto from 'node:crypto';
import { CacheUnavailableError, type Cache } from '../cache/cache.js';
import type { Clock } from '../shared/clock.js';
import { ServiceUnavailableError, UnauthorizedError } from '../shared/errors.js';

interface TokenRecord {
  userId: number;
  familyId: string;
}

interface FamilyRecord {
  userId: number;
  epoch: string;
  /** Absolute end of the family, ms since the epoch. */
  expiresAt: number;
}

export interface IssuedRefreshToken {
  token: string;
  familyId: string;
  expiresIn: number;
}

/** Long enough to outlive any family; if the epoch is ever lost, families fail closed. */
const EPOCH_TTL_SECONDS = 400 * 24 * 3600;

/** Sign-out times below this were stored in seconds (it is 1973 in ms, year 5138 in seconds). */
const SECONDS_BEFORE_MS = 1e11;

const hash = (token: string) => crypto.createHash('sha256').update(token).digest('hex');
const randomId = () => crypto.randomBytes(16).toString('base64url');

const keys = {
  token: (tokenHash: string) => `auth:rt:${tokenHash}`,
  spent: (tokenHash: string) => `auth:rt-spent:${tokenHash}`,
  family: (familyId: string) => `auth:rtf:${familyId}`,
  epoch: (userId: number) => `auth:rte:${userId}`,
  signedOut: (userId: number) => `auth:rto:${userId}`,
};

function parse<T>(value: string | null): T | null {
  if (value === null) return null;
  try {
    return JSON.parse(value) as T;
  } catch {
    return null;
  }
}

export function createRefreshTokens(deps: { cache: Cache; clock: Clock; ttlSeconds: number }) {
  const { cache, clock } = deps;
  const nowMs = () => clock.now().getTime();
  const invalid = () => new UnauthorizedError('auth.invalid_refresh_token', 'The refresh token is invalid or has expired');

  async function currentEpoch(userId: number): Promise<string> {
    const existing = await cache.get(keys.epoch(userId));
    if (existing) return existing;
    const fresh = randomId();
    if (await cache.setIfAbsent(keys.epoch(userId), fresh, EPOCH_TTL_SECONDS)) return fresh;
    return (await cache.get(keys.epoch(userId))) ?? fresh;
  }

  async function issueInFamily(userId: number, familyId: string, family: FamilyRecord): Promise<IssuedRefreshToken> {
    const token = crypto.randomBytes(32).toString('base64url');
    const ttl = Math.max(1, Math.ceil((family.expiresAt - nowMs()) / 1000));
    const record: TokenRecord = { userId, familyId };
    await cache.set(keys.token(hash(token)), JSON.stringify(record), ttl);
    return { token, familyId, expiresIn: ttl };
  }

  async function liveFamily(familyId: string, userId: number): Promise<FamilyRecord | null> {
    const family = parse<FamilyRecord>(await cache.get(keys.family(familyId)));
    if (!family || family.userId !== userId || family.expiresAt <= nowMs()) return null;
    if (family.epoch !== (await cache.get(keys.epoch(userId)))) return null;
    return family;
  }

  return {
    ttlSeconds: deps.ttlSeconds,

    /** Start a new family (a login) and return its first token. */
    async issue(userId: number): Promise<IssuedRefreshToken> {
      const familyId = randomId();
      const family: FamilyRecord = { userId, epoch: await currentEpoch(userId), expiresAt: nowMs() + deps.ttlSeconds * 1000 };
      await cache.set(keys.family(familyId), JSON.stringify(family), deps.ttlSeconds);
      // Writes to the store fail quietly; a session that was not stored would end at the first
      // request (its access tokens are checked against it). Read it back: no session, no login.
      const stored = await cache.getStrict(keys.family(familyId)).catch((err: Error) => {
        if (err instanceof CacheUnavailableError) return null;
        throw err;
      });
      if (stored === null) {
        throw new ServiceUnavailableError('auth.store_unavailable', 'Sessions cannot be stored right now; try again shortly', 5);
      }
      return issueInFamily(userId, familyId, family);
    },

    /**
     * Spend `token` and return the next one of its family with the user it belongs to.
     * A token already spent revokes its family (401 `auth.refresh_token_reused`).
     */
    async rotate(token: string): Promise<IssuedRefreshToken & { userId: number }> {
      const tokenHash = hash(token);
      const record = parse<TokenRecord>(await cache.get(keys.token(tokenHash)));
      if (!record) throw invalid();
      const family = await liveFamily(record.familyId, record.userId);
      if (!family) throw invalid();
      // The spent marker is set atomically (SET NX): of two concurrent uses, one loses.
      const ttl = Math.max(1, Math.ceil((family.expiresAt - nowMs()) / 1000));
      if (!(await cache.setIfAbsent(keys.spent(tokenHash), '1', ttl))) {
        await cache.del(keys.family(record.familyId));
        throw new UnauthorizedError(
          'auth.refresh_token_reused',
          'This refresh token was already used; every session started with it has been signed out',
        );
      }
      const next = await issueInFamily(record.userId, record.familyId, family);
      // A reuse detected while we were issuing revoked the family: the new token dies with it.
      if (!(await liveFamily(record.familyId, record.userId))) {
        await cache.del(keys.token(hash(next.token)));
        throw invalid();
      }
      return { ...next, userId: record.userId };
    },

    /** The user a live token belongs to, without spending it; null when invalid. */
    async peek(token: string): Promise<{ userId: number; familyId: string } | null> {
      const record = parse<TokenRecord>(await cache.get(keys.token(hash(token))));
      if (!record || !(await liveFamily(record.familyId, record.userId))) return null;
      return record;
    },

    /** Revoke the family of `token` (logout). Unknown tokens are ignored. */
    async revokeFamilyOf(token: string): Promise<void> {
      const record = parse<TokenRecord>(await cache.get(keys.token(hash(token))));
      if (record) await cache.del(keys.family(record.familyId));
    },

    async revokeFamily(familyId: string): Promise<void> {
      await cache.del(keys.family(familyId));
    },

    /** Revoke every family of the user (password change, deactivation). */
    async revokeAllForUser(userId: number): Promise<void> {
      await cache.set(keys.epoch(userId), randomId(), EPOCH_TTL_SECONDS);
      // Outlives every access token issued before it (they live far shorter than a family).
      await cache.set(keys.signedOut(userId), String(nowMs()), deps.ttlSeconds);
    },

    /**
     * Whether a session (a family) is still live, for the access tokens issued in it. Rejects
     * (CacheUnavailableError) when the store cannot be read, like `signedOutAt`.
     */
    async sessionLive(familyId: string): Promise<boolean> {
      return (await cache.getStrict(keys.family(familyId))) !== null;
    },

    /**
     * When all the user's sessions were last revoked (ms since the epoch), or null.
     * Rejects (CacheUnavailableError) when the store cannot be read: the caller must
     * refuse the token rather than take "unknown" for "never signed out".
     */
    async signedOutAt(userId: number): Promise<number | null> {
      const value = Number(await cache.getStrict(keys.signedOut(userId)));
      if (!Number.isFinite(value) || value <= 0) return null;
      // Written in whole seconds before sign-out times had milliseconds.
      return value < SECONDS_BEFORE_MS ? value * 1000 : value;
    },
  };
}

export type RefreshTokens = ReturnType<typeof createRefreshTokens>;

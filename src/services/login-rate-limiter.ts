/**
 * Failed-login limits per account and per client IP within a fixed window that starts
 * at the first counted attempt.
 *
 * An attempt is counted *before* its password is verified (an atomic increment), so
 * concurrent guesses cannot all slip in while the first ones are still being hashed:
 * at most `perAccount` attempts per account (and `perIp` per IP) are ever verified in
 * a window. A successful login clears the account's counter and gives its slot back
 * to the IP; a failed one keeps both slots.
 *
 * Counters live in the auth store (Redis across processes) and, with Redis, in an
 * in-process store too: when Redis is down its counters read 0, and the local ones
 * still hold the limit per process.
 */
import crypto from 'node:crypto';
import type { Cache } from '../cache/cache.js';
import { createExpiringStore } from '../cache/memory-cache.js';
import { AppError } from '../shared/errors.js';

export interface LoginLimits {
  /** Failed attempts allowed per account per window; the next one is refused. */
  perAccount: number;
  /** Failed attempts allowed per IP per window (higher: a tool-room counter PC serves many people). */
  perIp: number;
  windowSeconds: number;
}

export const DEFAULT_LOGIN_LIMITS: LoginLimits = { perAccount: 5, perIp: 20, windowSeconds: 60 };

/** 429 with the seconds to wait; the route turns `retryAfterSeconds` into `Retry-After`. */
export class RateLimitedError extends AppError {
  constructor(readonly retryAfterSeconds: number) {
    super(429, 'auth.rate_limited', `Too many failed login attempts; try again in ${retryAfterSeconds} s`, {
      retry_after: retryAfterSeconds,
    });
  }
}

/** A counted login attempt. Leave it alone when the password was wrong: the attempt stays counted. */
export interface LoginAttempt {
  /** The password was right: clear the account's counter and give the IP its slot back. */
  succeeded(): Promise<void>;
  /** The attempt says nothing about the password (it failed for another reason): give both slots back. */
  release(): Promise<void>;
}

const digest = (value: string) => crypto.createHash('sha256').update(value).digest('hex').slice(0, 32);

export function createLoginRateLimiter(deps: { cache: Cache; limits?: Partial<LoginLimits> }) {
  const limits = { ...DEFAULT_LOGIN_LIMITS, ...deps.limits };
  const stores = deps.cache.kind === 'memory' ? [deps.cache] : [deps.cache, createExpiringStore()];
  const accountKey = (employeeNumber: string) => `auth:login-fail:acct:${digest(employeeNumber)}`;
  const ipKey = (ip: string) => `auth:login-fail:ip:${digest(ip)}`;

  /** Count one attempt on `key` in every store; the seconds to wait when any store is over `limit`, else 0. */
  async function take(key: string, limit: number): Promise<number> {
    let retryAfter = 0;
    for (const store of stores) {
      const { value, ttlSeconds } = await store.increment(key, limits.windowSeconds);
      if (value > limit) retryAfter = Math.max(retryAfter, ttlSeconds);
    }
    return retryAfter;
  }
  const giveBack = async (key: string) => {
    for (const store of stores) await store.decrement(key);
  };

  return {
    limits,

    /**
     * Count an attempt before verifying it; RateLimitedError (and the attempt is not
     * verified) when the account or the IP has used up its window.
     */
    async reserve(employeeNumber: string, ip: string): Promise<LoginAttempt> {
      const account = accountKey(employeeNumber);
      const address = ipKey(ip);
      // A blocked account does not spend its IP's budget (others log in from that PC too).
      const accountWait = await take(account, limits.perAccount);
      if (accountWait > 0) throw new RateLimitedError(accountWait);
      const ipWait = await take(address, limits.perIp);
      if (ipWait > 0) {
        await giveBack(account);
        throw new RateLimitedError(ipWait);
      }
      let settled = false;
      const settle = async (fn: () => Promise<void>) => {
        if (settled) return;
        settled = true;
        await fn();
      };
      return {
        succeeded: () =>
          settle(async () => {
            for (const store of stores) await store.del(account);
            await giveBack(address);
          }),
        release: () =>
          settle(async () => {
            await giveBack(account);
            await giveBack(address);
          }),
      };
    },
  };
}

export type LoginRateLimiter = ReturnType<typeof createLoginRateLimiter>;

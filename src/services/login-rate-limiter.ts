/**
 * Failed-login limits per account and per client IP within a sliding-start window.
 * Counters live in the shared cache (Redis across processes) and, always, in an
 * in-process cache too: when Redis is down its counters read 0, and the local ones
 * still hold the limit per process.
 */
import crypto from 'node:crypto';
import type { Cache } from '../cache/cache.js';
import { createMemoryCache } from '../cache/memory-cache.js';
import type { Clock } from '../shared/clock.js';
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

const digest = (value: string) => crypto.createHash('sha256').update(value).digest('hex').slice(0, 32);

export function createLoginRateLimiter(deps: { cache: Cache; clock: Clock; limits?: Partial<LoginLimits> }) {
  const limits = { ...DEFAULT_LOGIN_LIMITS, ...deps.limits };
  const stores = deps.cache.kind === 'memory' ? [deps.cache] : [deps.cache, createMemoryCache(50_000)];
  const subjects = (employeeNumber: string, ip: string) => [
    { key: `auth:login-fail:acct:${digest(employeeNumber)}`, limit: limits.perAccount },
    { key: `auth:login-fail:ip:${digest(ip)}`, limit: limits.perIp },
  ];
  const blockKey = (key: string) => `${key}:blocked`;

  return {
    limits,

    /** Throws RateLimitedError while the account or the IP is blocked. */
    async check(employeeNumber: string, ip: string): Promise<void> {
      let retryAfter = 0;
      for (const { key } of subjects(employeeNumber, ip)) {
        for (const store of stores) {
          const until = Number(await store.get(blockKey(key)));
          if (until > 0) retryAfter = Math.max(retryAfter, Math.ceil((until - deps.clock.now().getTime()) / 1000));
        }
      }
      if (retryAfter > 0) throw new RateLimitedError(retryAfter);
    },

    /** Count a failed attempt; the attempt that reaches a limit blocks until the window ends. */
    async recordFailure(employeeNumber: string, ip: string): Promise<void> {
      for (const { key, limit } of subjects(employeeNumber, ip)) {
        for (const store of stores) {
          const { value, ttlSeconds } = await store.increment(key, limits.windowSeconds);
          if (value >= limit) {
            const until = deps.clock.now().getTime() + ttlSeconds * 1000;
            await store.set(blockKey(key), String(until), ttlSeconds);
          }
        }
      }
    },

    /** A successful login clears the account's counter (the IP's keeps counting). */
    async recordSuccess(employeeNumber: string): Promise<void> {
      const [account] = subjects(employeeNumber, '');
      for (const store of stores) await store.del(account!.key);
    },
  };
}

export type LoginRateLimiter = ReturnType<typeof createLoginRateLimiter>;

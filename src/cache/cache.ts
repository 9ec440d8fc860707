/**
 * The cache port: results, rate-limit counters, refresh tokens. Redis when
 * configured, in-process otherwise: an LRU for results (createMemoryCache) and a
 * store that never drops live entries for auth state (createExpiringStore). A Redis
 * outage degrades (misses, writes dropped), it never fails a request, except where a
 * caller asks for `getStrict` because a miss would let someone in.
 */
export interface Cache {
  readonly kind: 'redis' | 'memory';
  get(key: string): Promise<string | null>;
  /**
   * Like `get`, but a store failure rejects (CacheUnavailableError) instead of reading
   * as a miss: for security checks that must fail closed (is this token revoked?).
   */
  getStrict(key: string): Promise<string | null>;
  set(key: string, value: string, ttlSeconds: number): Promise<void>;
  /** Set only when absent; true when this call set it. */
  setIfAbsent(key: string, value: string, ttlSeconds: number): Promise<boolean>;
  del(key: string): Promise<void>;
  /** Increment a counter that expires ttlSeconds after its first increment; returns the new value and the seconds left. */
  increment(key: string, ttlSeconds: number): Promise<{ value: number; ttlSeconds: number }>;
  /** Take one back from a live counter (its expiry unchanged); an absent or expired counter stays absent. */
  decrement(key: string): Promise<void>;
  /** Health: true when the backing store answers. */
  ping(): Promise<boolean>;
  close(): Promise<void>;
}

/** A `getStrict` read could not reach the store. */
export class CacheUnavailableError extends Error {
  constructor(cause: Error) {
    super(`cache unavailable: ${cause.message}`, { cause });
    this.name = 'CacheUnavailableError';
  }
}

/**
 * The cache port: results, rate-limit counters, refresh tokens. Redis when
 * configured, an in-process LRU otherwise. A Redis outage degrades (misses,
 * writes dropped), it never fails a request.
 */
export interface Cache {
  readonly kind: 'redis' | 'memory';
  get(key: string): Promise<string | null>;
  set(key: string, value: string, ttlSeconds: number): Promise<void>;
  /** Set only when absent; true when this call set it. */
  setIfAbsent(key: string, value: string, ttlSeconds: number): Promise<boolean>;
  del(key: string): Promise<void>;
  /** Increment a counter that expires ttlSeconds after its first increment; returns the new value and the seconds left. */
  increment(key: string, ttlSeconds: number): Promise<{ value: number; ttlSeconds: number }>;
  /** Health: true when the backing store answers. */
  ping(): Promise<boolean>;
  close(): Promise<void>;
}

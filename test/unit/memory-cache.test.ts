import { afterEach, describe, expect, it, vi } from 'vitest';
import { createExpiringStore, createMemoryCache } from '../../src/cache/memory-cache.js';

describe('memory cache', () => {
  afterEach(() => vi.useRealTimers());

  it('stores, expires and deletes values', async () => {
    vi.useFakeTimers();
    const cache = createMemoryCache();
    await cache.set('a', '1', 10);
    expect(await cache.get('a')).toBe('1');
    vi.advanceTimersByTime(10_001);
    expect(await cache.get('a')).toBeNull();
    await cache.set('b', '2', 10);
    await cache.del('b');
    expect(await cache.get('b')).toBeNull();
  });

  it('setIfAbsent sets only once while the key lives', async () => {
    const cache = createMemoryCache();
    expect(await cache.setIfAbsent('k', 'x', 60)).toBe(true);
    expect(await cache.setIfAbsent('k', 'y', 60)).toBe(false);
    expect(await cache.get('k')).toBe('x');
  });

  it('counts within a fixed window', async () => {
    vi.useFakeTimers();
    const cache = createMemoryCache();
    expect((await cache.increment('c', 60)).value).toBe(1);
    vi.advanceTimersByTime(30_000);
    const second = await cache.increment('c', 60);
    expect(second).toEqual({ value: 2, ttlSeconds: 30 });
    vi.advanceTimersByTime(30_001);
    expect((await cache.increment('c', 60)).value).toBe(1);
  });
});

describe('memory cache decrement', () => {
  it('takes one back from a live counter and never revives an expired one', async () => {
    vi.useFakeTimers();
    const cache = createMemoryCache();
    await cache.increment('c', 60);
    await cache.increment('c', 60);
    await cache.decrement('c');
    expect(await cache.get('c')).toBe('1');
    vi.advanceTimersByTime(60_001);
    await cache.decrement('c');
    expect(await cache.get('c')).toBeNull();
    expect((await cache.increment('c', 60)).value).toBe(1);
  });
});

describe('expiring store (auth state)', () => {
  afterEach(() => vi.useRealTimers());

  it('never evicts a live entry, however many keys arrive (unlike the LRU result cache)', async () => {
    const lru = createMemoryCache(1_000);
    const store = createExpiringStore();
    for (const cache of [lru, store]) await cache.set('auth:revoked-jti:first', '1', 600);
    for (let i = 0; i < 5_000; i++) {
      await lru.set(`k${i}`, 'x', 600);
      await store.set(`k${i}`, 'x', 600);
    }
    expect(await lru.get('auth:revoked-jti:first')).toBeNull();
    expect(await store.get('auth:revoked-jti:first')).toBe('1');
    expect(await store.get('k0')).toBe('x');
    expect(store.size).toBe(5_001);
  });

  it('drops entries when their TTL ends and prunes expired ones as it grows', async () => {
    vi.useFakeTimers();
    const store = createExpiringStore({ minPruneSize: 100 });
    for (let i = 0; i < 2_000; i++) await store.set(`old${i}`, 'x', 1);
    await store.set('long', 'kept', 600);
    vi.advanceTimersByTime(1_001);
    expect(await store.get('old0')).toBeNull();
    for (let i = 0; i < 1_500; i++) await store.set(`new${i}`, 'y', 60);
    // The expired entries went without being read (3,501 otherwise); every live one stays.
    const live = 1_501;
    expect(store.size).toBeGreaterThanOrEqual(live);
    expect(store.size).toBeLessThanOrEqual(2 * live);
    expect(await store.get('long')).toBe('kept');
    expect(await store.get('new0')).toBe('y');
    expect(await store.get('new1499')).toBe('y');
  });

  it('counts, takes back and reads strictly like the result cache', async () => {
    const store = createExpiringStore();
    expect((await store.increment('n', 60)).value).toBe(1);
    expect((await store.increment('n', 60)).value).toBe(2);
    await store.decrement('n');
    expect(await store.getStrict('n')).toBe('1');
    expect(await store.setIfAbsent('n', 'z', 60)).toBe(false);
    await store.del('n');
    expect(await store.getStrict('n')).toBeNull();
  });
});

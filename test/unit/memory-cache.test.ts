import { afterEach, describe, expect, it, vi } from 'vitest';
import { createMemoryCache } from '../../src/cache/memory-cache.js';

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

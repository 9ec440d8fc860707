import { LRUCache } from 'lru-cache';
import type { Cache } from './cache.js';

export function createMemoryCache(maxEntries = 10_000): Cache {
  const store = new LRUCache<string, { value: string; expiresAt: number }>({ max: maxEntries });
  const now = () => Date.now();
  const live = (key: string) => {
    const entry = store.get(key);
    if (!entry) return undefined;
    if (entry.expiresAt <= now()) {
      store.delete(key);
      return undefined;
    }
    return entry;
  };
  return {
    kind: 'memory',
    async get(key) {
      return live(key)?.value ?? null;
    },
    async set(key, value, ttlSeconds) {
      store.set(key, { value, expiresAt: now() + ttlSeconds * 1000 });
    },
    async setIfAbsent(key, value, ttlSeconds) {
      if (live(key)) return false;
      store.set(key, { value, expiresAt: now() + ttlSeconds * 1000 });
      return true;
    },
    async del(key) {
      store.delete(key);
    },
    async increment(key, ttlSeconds) {
      const entry = live(key);
      const expiresAt = entry?.expiresAt ?? now() + ttlSeconds * 1000;
      const value = (entry ? Number(entry.value) : 0) + 1;
      store.set(key, { value: String(value), expiresAt });
      return { value, ttlSeconds: Math.max(1, Math.ceil((expiresAt - now()) / 1000)) };
    },
    async ping() {
      return true;
    },
    async close() {
      store.clear();
    },
  };
}

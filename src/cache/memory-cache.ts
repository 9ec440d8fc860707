import { LRUCache } from 'lru-cache';
import type { Cache } from './cache.js';

interface Entry {
  value: string;
  /** ms since the epoch */
  expiresAt: number;
}

/** The part of Map and LRUCache the in-process caches use. */
interface EntryMap {
  get(key: string): Entry | undefined;
  set(key: string, entry: Entry): unknown;
  delete(key: string): unknown;
  clear(): void;
}

/**
 * In-process cache for results: an LRU of at most `maxEntries`, so a flood of new
 * keys evicts old ones early. Never use it for auth state (createExpiringStore).
 */
export function createMemoryCache(maxEntries = 10_000): Cache {
  return memoryCacheOver(new LRUCache<string, Entry>({ max: maxEntries }));
}

/**
 * In-process store for auth and security state (login counters, refresh tokens,
 * revoked tokens, sign-out times): a live entry is never evicted, because losing one
 * would unblock an attacker or revive a revoked token. Entries leave when their TTL
 * ends; expired ones are pruned whenever the store has doubled since the last prune,
 * so memory stays proportional to what is live.
 */
export function createExpiringStore(options: { minPruneSize?: number } = {}): Cache & { readonly size: number } {
  const minPruneSize = options.minPruneSize ?? 1_024;
  const entries = new Map<string, Entry>();
  let pruneAt = minPruneSize;
  const pruneExpired = () => {
    if (entries.size < pruneAt) return;
    const now = Date.now();
    for (const [key, entry] of entries) if (entry.expiresAt <= now) entries.delete(key);
    pruneAt = Math.max(minPruneSize, entries.size * 2);
  };
  const cache = memoryCacheOver({
    get: (key) => entries.get(key),
    set: (key, entry) => {
      entries.set(key, entry);
      pruneExpired();
    },
    delete: (key) => entries.delete(key),
    clear: () => entries.clear(),
  });
  return Object.defineProperty(cache, 'size', { get: () => entries.size, enumerable: true }) as Cache & { readonly size: number };
}

function memoryCacheOver(store: EntryMap): Cache {
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
  const get = async (key: string) => live(key)?.value ?? null;
  return {
    kind: 'memory',
    get,
    // Nothing to be unavailable in-process.
    getStrict: get,
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
    async decrement(key) {
      const entry = live(key);
      if (entry) store.set(key, { value: String(Number(entry.value) - 1), expiresAt: entry.expiresAt });
    },
    async ping() {
      return true;
    },
    async close() {
      store.clear();
    },
  };
}

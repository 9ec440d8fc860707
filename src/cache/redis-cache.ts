import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { CacheUnavailableError, type Cache } from './cache.js';

/** Take one back only from a counter that still exists: DECR alone would recreate an expired one without a TTL. */
const DECREMENT_IF_PRESENT = "if redis.call('exists', KEYS[1]) == 1 then return redis.call('decr', KEYS[1]) end return 0";

/**
 * Redis-backed cache. Every command failure degrades to a miss / no-op and is logged
 * at debug, except `getStrict`, which rejects so security checks can fail closed.
 */
export function createRedisCache(client: Redis, logger: Logger, prefix = 'tc:'): Cache {
  const degrade = <T>(fallback: T) => (err: Error): T => {
    logger.debug({ err: err.message }, 'Redis command failed; continuing without cache');
    return fallback;
  };
  return {
    kind: 'redis',
    get: (key) => client.get(prefix + key).catch(degrade(null)),
    getStrict: (key) =>
      client.get(prefix + key).catch((err: Error) => {
        throw new CacheUnavailableError(err);
      }),
    set: (key, value, ttlSeconds) =>
      client
        .set(prefix + key, value, 'EX', ttlSeconds)
        .then(() => undefined)
        .catch(degrade(undefined)),
    setIfAbsent: (key, value, ttlSeconds) =>
      client
        .set(prefix + key, value, 'EX', ttlSeconds, 'NX')
        .then((r) => r === 'OK')
        .catch(degrade(false)),
    del: (key) =>
      client
        .del(prefix + key)
        .then(() => undefined)
        .catch(degrade(undefined)),
    async increment(key, ttlSeconds) {
      try {
        const [[, value], [, ttl]] = (await client
          .multi()
          .incr(prefix + key)
          .expire(prefix + key, ttlSeconds, 'NX')
          .ttl(prefix + key)
          .exec()
          .then((r) => [r![0]!, r![2]!])) as [[unknown, number], [unknown, number]];
        return { value, ttlSeconds: Math.max(1, ttl) };
      } catch (err) {
        // Without Redis the counter cannot be shared; count nothing rather than lock everyone out.
        return degrade({ value: 0, ttlSeconds })(err as Error);
      }
    },
    decrement: (key) =>
      client
        .eval(DECREMENT_IF_PRESENT, 1, prefix + key)
        .then(() => undefined)
        .catch(degrade(undefined)),
    ping: () =>
      client
        .ping()
        .then((r) => r === 'PONG')
        .catch(() => false),
    async close() {
      // Connections are owned by deps; nothing to do here.
    },
  };
}

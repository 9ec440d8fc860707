/**
 * Real PostgreSQL and Redis behind TCP proxies that the test cuts and restores:
 * health says degraded without Redis, 503 without PostgreSQL, and recovers.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CacheUnavailableError } from '../../src/cache/cache.js';
import { createMemoryCache } from '../../src/cache/memory-cache.js';
import { createRedisCache } from '../../src/cache/redis-cache.js';
import { createRedisClient } from '../../src/cache/redis-client.js';
import { buildTestApp, type TestApp } from '../helpers/app.js';
import { createPostgresDatabase, silentLogger, TEST_DATABASE_URL, TEST_REDIS_URL } from '../helpers/databases.js';
import { createTcpProxy } from '../helpers/tcp-proxy.js';

const enabled = Boolean(TEST_DATABASE_URL && TEST_REDIS_URL);

async function eventually<T>(fn: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 15_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  let last: T = await fn();
  while (!ok(last) && Date.now() < until) {
    await new Promise((r) => setTimeout(r, 200));
    last = await fn();
  }
  return last;
}

describe.runIf(enabled)('outages of PostgreSQL and Redis', () => {
  let t: TestApp;
  let pgProxy: Awaited<ReturnType<typeof createTcpProxy>>;
  let redisProxy: Awaited<ReturnType<typeof createTcpProxy>>;
  let dropDb: () => Promise<void>;

  beforeAll(async () => {
    const pgTarget = new URL(TEST_DATABASE_URL!);
    const redisTarget = new URL(TEST_REDIS_URL!);
    pgProxy = await createTcpProxy({ host: pgTarget.hostname, port: Number(pgTarget.port || 5432) });
    redisProxy = await createTcpProxy({ host: redisTarget.hostname, port: Number(redisTarget.port || 6379) });
    const created = await createPostgresDatabase();
    dropDb = created.drop;
    const dbUrl = new URL(created.url);
    dbUrl.host = `127.0.0.1:${pgProxy.port}`;
    const redisUrl = new URL(TEST_REDIS_URL!);
    redisUrl.host = `127.0.0.1:${redisProxy.port}`;
    t = await buildTestApp({
      env: { DATABASE_URL: dbUrl.toString(), REDIS_URL: redisUrl.toString() },
      overrides: { database: undefined },
    });
  });
  afterAll(async () => {
    await t?.close();
    await pgProxy?.stop();
    await redisProxy?.stop();
    await dropDb?.();
  });

  const health = () => t.app.inject({ url: '/base/health' });

  it('is ok with both up', async () => {
    // The Redis connection is made in the background at start.
    const res = await eventually(health, (r) => r.json().redis.ok === true);
    expect(res.json(), res.body).toMatchObject({ postgres: { ok: true, kind: 'postgres' }, redis: { ok: true } });
    expect(res.json().services).toEqual({ postgresql: 'connected', redis: 'connected' });
  });

  it('degrades without Redis, keeps serving, and recovers', async () => {
    await redisProxy.stop();
    const down = await eventually(health, (r) => r.json().redis.ok === false);
    expect(down.statusCode).toBe(200);
    expect(down.json().status).not.toBe('ok');
    expect(down.json().services).toEqual({ postgresql: 'connected', redis: 'disconnected' });
    // The cache degrades to misses instead of failing requests.
    expect(await t.deps.cache.get('anything')).toBeNull();
    await t.deps.cache.set('anything', 'x', 5);
    await redisProxy.start();
    const up = await eventually(health, (r) => r.json().redis.ok === true);
    expect(up.json().redis).toEqual({ ok: true });
    expect(up.json().services.redis).toBe('connected');
  });

  it('answers 503 without PostgreSQL and recovers when it is back', async () => {
    await pgProxy.stop();
    const down = await eventually(health, (r) => r.statusCode === 503);
    expect(down.statusCode).toBe(503);
    expect(down.json().postgres.ok).toBe(false);
    expect(down.json().services.postgresql).toBe('disconnected');
    await pgProxy.start();
    const up = await eventually(health, (r) => r.statusCode === 200);
    expect(up.json().postgres.ok).toBe(true);
    expect(up.json().services.postgresql).toBe('connected');
  });
});

describe.runIf(Boolean(TEST_REDIS_URL))('Redis cache', () => {
  it('stores, counts and expires through real Redis', async () => {
    const client = createRedisClient(TEST_REDIS_URL!, silentLogger);
    const prefix = `test:${process.pid}:${Date.now()}:`;
    const cache = createRedisCache(client, silentLogger, prefix);
    try {
      await cache.set('k', 'v', 60);
      expect(await cache.get('k')).toBe('v');
      expect(await cache.setIfAbsent('k', 'w', 60)).toBe(false);
      expect((await cache.increment('n', 60)).value).toBe(1);
      const second = await cache.increment('n', 60);
      expect(second.value).toBe(2);
      expect(second.ttlSeconds).toBeGreaterThan(55);
      await cache.decrement('n');
      expect(await cache.getStrict('n')).toBe('1');
      // An expired (here: absent) counter is not recreated without a TTL.
      await cache.decrement('absent');
      expect(await cache.get('absent')).toBeNull();
      expect(await client.ttl(`${prefix}absent`)).toBe(-2);
      await cache.del('k');
      expect(await cache.get('k')).toBeNull();
    } finally {
      client.disconnect();
    }
  });

  it('never throws when Redis cannot be reached', async () => {
    const client = createRedisClient('redis://127.0.0.1:1', silentLogger);
    const cache = createRedisCache(client, silentLogger);
    try {
      expect(await cache.get('k')).toBeNull();
      await expect(cache.set('k', 'v', 1)).resolves.toBeUndefined();
      expect(await cache.ping()).toBe(false);
      // Except where a miss would let someone in.
      await expect(cache.getStrict('k')).rejects.toBeInstanceOf(CacheUnavailableError);
      expect(createMemoryCache().kind).toBe('memory');
    } finally {
      client.disconnect();
    }
  });
});

describe.runIf(Boolean(TEST_REDIS_URL))('access tokens while Redis is away', () => {
  let t: TestApp;
  let redisProxy: Awaited<ReturnType<typeof createTcpProxy>>;

  beforeAll(async () => {
    const target = new URL(TEST_REDIS_URL!);
    redisProxy = await createTcpProxy({ host: target.hostname, port: Number(target.port || 6379) });
    const redisUrl = new URL(TEST_REDIS_URL!);
    redisUrl.host = `127.0.0.1:${redisProxy.port}`;
    t = await buildTestApp({ env: { REDIS_URL: redisUrl.toString() } });
  });
  afterAll(async () => {
    await t?.close();
    await redisProxy?.stop();
  });

  it('fails closed: 503 auth.store_unavailable, not "not revoked", and recovers', async () => {
    await eventually(() => t.deps.cache.ping(), (ok) => ok);
    const token = await t.login();
    const me = () => t.app.inject({ url: '/auth/me', headers: { authorization: `Bearer ${token}` } });
    expect((await me()).statusCode).toBe(200);
    await redisProxy.stop();
    const down = await eventually(me, (r) => r.statusCode !== 200);
    expect(down.statusCode).toBe(503);
    expect(down.headers['content-type']).toContain('application/problem+json');
    expect(down.headers['retry-after']).toBeDefined();
    expect(down.json().code).toBe('auth.store_unavailable');
    await redisProxy.start();
    const up = await eventually(me, (r) => r.statusCode === 200);
    expect(up.statusCode).toBe(200);
  });
});

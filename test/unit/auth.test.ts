import Fastify, { type FastifyInstance } from 'fastify';
import { SignJWT } from 'jose';
import { afterEach, describe, expect, it } from 'vitest';
import type { Cache } from '../../src/cache/cache.js';
import { createExpiringStore, createMemoryCache } from '../../src/cache/memory-cache.js';
import { authenticate, registerAuth, requireRole, type AuthUser } from '../../src/api/plugins/auth.js';
import { registerErrorHandler } from '../../src/api/plugins/error-handler.js';
import { createAccessTokens, TOKEN_AUDIENCE, TOKEN_ISSUER } from '../../src/services/access-tokens.js';
import { createLoginRateLimiter, RateLimitedError } from '../../src/services/login-rate-limiter.js';
import { createRefreshTokens } from '../../src/services/refresh-tokens.js';
import { UnauthorizedError } from '../../src/shared/errors.js';

const SECRET = 'unit-secret-unit-secret-unit-secret-unit';

function fakeClock(start = new Date('2026-05-01T10:00:00Z')) {
  let now = start.getTime();
  return { now: () => new Date(now), advance: (seconds: number) => (now += seconds * 1000) };
}

async function code(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (err) {
    return (err as UnauthorizedError).code;
  }
  return 'resolved';
}

describe('access tokens', () => {
  it('issue and verify round-trip; expiry follows the clock', async () => {
    const clock = fakeClock();
    const tokens = createAccessTokens({ secret: SECRET, ttlSeconds: 60, clock });
    const token = await tokens.issue({ id: 7, role: 'storekeeper' });
    expect(await tokens.verify(token)).toMatchObject({ userId: 7, role: 'storekeeper', jti: expect.any(String) });
    clock.advance(64); // within the 5 s tolerance
    expect((await tokens.verify(token)).userId).toBe(7);
    clock.advance(2);
    expect(await code(tokens.verify(token))).toBe('auth.token_expired');
  });

  it('carries its issue time in milliseconds (iat_ms); tokens without it count from the start of their second', async () => {
    const clock = fakeClock(new Date('2026-05-01T10:00:00.750Z'));
    const tokens = createAccessTokens({ secret: SECRET, ttlSeconds: 60, clock });
    const claims = await tokens.verify(await tokens.issue({ id: 7, role: 'engineer' }));
    expect(claims.issuedAtMs).toBe(clock.now().getTime());
    expect(claims.iat).toBe(Math.floor(clock.now().getTime() / 1000));
    const key = new TextEncoder().encode(SECRET);
    const legacy = await new SignJWT({ role: 'engineer' })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('7')
      .setJti('legacy')
      .setIssuedAt(claims.iat)
      .setExpirationTime(claims.iat + 60)
      .setIssuer(TOKEN_ISSUER)
      .setAudience(TOKEN_AUDIENCE)
      .sign(key);
    expect((await tokens.verify(legacy)).issuedAtMs).toBe(claims.iat * 1000);
  });

  it('every token has its own jti', async () => {
    const tokens = createAccessTokens({ secret: SECRET, ttlSeconds: 60, clock: fakeClock() });
    const a = await tokens.verify(await tokens.issue({ id: 1, role: 'admin' }));
    const b = await tokens.verify(await tokens.issue({ id: 1, role: 'admin' }));
    expect(a.jti).not.toBe(b.jti);
  });

  it('a token of another secret, garbage and alg none are invalid', async () => {
    const clock = fakeClock();
    const mine = createAccessTokens({ secret: SECRET, ttlSeconds: 60, clock });
    const theirs = createAccessTokens({ secret: `${SECRET}-other`, ttlSeconds: 60, clock });
    expect(await code(mine.verify(await theirs.issue({ id: 1, role: 'admin' })))).toBe('auth.invalid_token');
    expect(await code(mine.verify('not.a.token'))).toBe('auth.invalid_token');
    const [, payload] = (await mine.issue({ id: 1, role: 'admin' })).split('.');
    const none = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${payload}.`;
    expect(await code(mine.verify(none))).toBe('auth.invalid_token');
  });
});

describe('refresh tokens', () => {
  const make = (cache: Cache = createMemoryCache(), clock = fakeClock()) => ({
    store: createRefreshTokens({ cache, clock, ttlSeconds: 3600 }),
    cache,
    clock,
  });

  it('stores only a hash of the token', async () => {
    const cache = createMemoryCache();
    const seen: string[] = [];
    const spy: Cache = { ...cache, set: async (k, v, ttl) => (seen.push(k, v), cache.set(k, v, ttl)) };
    const tokens = createRefreshTokens({ cache: spy, clock: fakeClock(), ttlSeconds: 3600 });
    const issued = await tokens.issue(1);
    expect(seen.length).toBeGreaterThan(0);
    expect(seen.join(' ')).not.toContain(issued.token);
  });

  it('rotates within a family; a spent token revokes the family', async () => {
    const { store } = make();
    const first = await store.issue(5);
    const second = await store.rotate(first.token);
    expect(second).toMatchObject({ userId: 5, familyId: first.familyId });
    const third = await store.rotate(second.token);
    expect(await code(store.rotate(second.token))).toBe('auth.refresh_token_reused');
    expect(await code(store.rotate(third.token))).toBe('auth.invalid_refresh_token');
  });

  it('a family ends at its absolute lifetime, however often it rotates', async () => {
    const { store, clock } = make();
    let current = await store.issue(5);
    for (let i = 0; i < 3; i++) {
      clock.advance(1000);
      current = await store.rotate(current.token);
      expect(current.expiresIn).toBeLessThanOrEqual(3600 - 1000 * (i + 1));
    }
    clock.advance(700);
    expect(await code(store.rotate(current.token))).toBe('auth.invalid_refresh_token');
  });

  it('revokeAllForUser ends every family of that user only', async () => {
    const { store } = make();
    const a = await store.issue(1);
    const b = await store.issue(1);
    const other = await store.issue(2);
    await store.revokeAllForUser(1);
    expect(await code(store.rotate(a.token))).toBe('auth.invalid_refresh_token');
    expect(await code(store.rotate(b.token))).toBe('auth.invalid_refresh_token');
    expect((await store.rotate(other.token)).userId).toBe(2);
    // New logins after the revocation work.
    expect((await store.rotate((await store.issue(1)).token)).userId).toBe(1);
  });

  it('keeps the sign-out time in milliseconds', async () => {
    const { store, clock } = make(createExpiringStore(), fakeClock(new Date('2026-05-01T10:00:00.250Z')));
    await store.revokeAllForUser(4);
    expect(await store.signedOutAt(4)).toBe(clock.now().getTime());
    expect(await store.signedOutAt(5)).toBeNull();
  });

  it('reads a sign-out time stored in seconds (before milliseconds) as the start of that second', async () => {
    const cache = createExpiringStore();
    const { store } = make(cache);
    await cache.set('auth:rto:4', '1777629600', 60);
    expect(await store.signedOutAt(4)).toBe(1_777_629_600_000);
  });

  it('fails closed when the store loses data (Redis down or evicted)', async () => {
    const { store, cache } = make();
    const issued = await store.issue(3);
    await cache.close(); // the memory cache forgets everything
    expect(await code(store.rotate(issued.token))).toBe('auth.invalid_refresh_token');
  });
});

describe('login rate limiter', () => {
  const refused = (promise: Promise<unknown>) => promise.then(() => null, (err: unknown) => err);

  it('blocks the attempt after the limit until the window ends', async () => {
    const limiter = createLoginRateLimiter({ cache: createMemoryCache(), limits: { perAccount: 3, perIp: 100 } });
    // Three failed attempts: reserved and never settled.
    for (let i = 0; i < 3; i++) await limiter.reserve('u', '1.1.1.1');
    const err = await refused(limiter.reserve('u', '1.1.1.1'));
    expect(err).toBeInstanceOf(RateLimitedError);
    expect((err as RateLimitedError).retryAfterSeconds).toBeGreaterThan(0);
    expect((err as RateLimitedError).status).toBe(429);
    await limiter.reserve('someone-else', '1.1.1.1');
  });

  it('counts an attempt before it is verified: of many at once, only the limit get through', async () => {
    const limiter = createLoginRateLimiter({ cache: createExpiringStore(), limits: { perAccount: 5, perIp: 100 } });
    const results = await Promise.allSettled(Array.from({ length: 20 }, () => limiter.reserve('u', '2.2.2.2')));
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(5);
    expect(results.filter((r) => r.status === 'rejected' && r.reason instanceof RateLimitedError)).toHaveLength(15);
  });

  it('a success clears the account and gives the IP its slot back; a release gives both back', async () => {
    const limiter = createLoginRateLimiter({ cache: createExpiringStore(), limits: { perAccount: 2, perIp: 3 } });
    // Many successful logins from one counter PC never use up its IP budget.
    for (let i = 0; i < 10; i++) await (await limiter.reserve(`user-${i}`, 'pc')).succeeded();
    await limiter.reserve('a', 'pc');
    await (await limiter.reserve('a', 'pc')).succeeded();
    await limiter.reserve('a', 'pc');
    await (await limiter.reserve('a', 'pc')).release();
    await limiter.reserve('a', 'pc');
    // Three failures from the PC now: it is blocked for everyone, and a refused attempt costs the account nothing.
    expect(await refused(limiter.reserve('b', 'pc'))).toBeInstanceOf(RateLimitedError);
    await limiter.reserve('b', 'elsewhere');
    await limiter.reserve('b', 'elsewhere');
    expect(await refused(limiter.reserve('b', 'elsewhere'))).toBeInstanceOf(RateLimitedError);
  });

  it('counts in-process when the shared cache counts nothing (Redis down)', async () => {
    const memory = createMemoryCache();
    const down: Cache = {
      ...memory,
      kind: 'redis',
      get: async () => null,
      set: async () => undefined,
      increment: async (_k, ttl) => ({ value: 0, ttlSeconds: ttl }),
      decrement: async () => undefined,
    };
    const limiter = createLoginRateLimiter({ cache: down });
    for (let i = 0; i < 5; i++) await limiter.reserve('u', 'ip');
    await expect(limiter.reserve('u', 'ip')).rejects.toBeInstanceOf(RateLimitedError);
  });
});

describe('auth preHandlers', () => {
  let app: FastifyInstance;
  afterEach(() => app?.close());

  const users: Record<string, AuthUser> = {
    'engineer-token': { id: 1, role: 'engineer', employeeNumber: 'e', fullName: 'E' },
    'admin-token': { id: 2, role: 'admin', employeeNumber: 'a', fullName: 'A' },
  };

  async function build() {
    app = Fastify();
    registerErrorHandler(app);
    registerAuth(app, {
      authenticate: async (token) => {
        const user = users[token];
        if (!user) throw new UnauthorizedError('auth.invalid_token', 'bad');
        return user;
      },
    });
    app.get('/who', { preHandler: authenticate() }, async (request) => request.user);
    app.get('/media', { preHandler: authenticate({ allowQueryToken: true }) }, async (request) => request.user);
    app.post('/media', { preHandler: authenticate({ allowQueryToken: true }) }, async (request) => request.user);
    app.get('/admin', { preHandler: requireRole('admin') }, async (request) => request.user);
    app.get('/both', { preHandler: [authenticate(), requireRole('admin', 'engineer')] }, async (request) => request.user);
    await app.ready();
  }

  it('authenticate sets request.user from the bearer header', async () => {
    await build();
    const res = await app.inject({ url: '/who', headers: { authorization: 'bearer engineer-token' } });
    expect(res.json()).toEqual(users['engineer-token']);
    expect((await app.inject({ url: '/who' })).statusCode).toBe(401);
    expect((await app.inject({ url: '/who?access_token=engineer-token' })).statusCode).toBe(401);
  });

  it('takes ?access_token= only where allowed, only for GET, and prefers the header', async () => {
    await build();
    expect((await app.inject({ url: '/media?access_token=engineer-token' })).json().id).toBe(1);
    expect((await app.inject({ method: 'POST', url: '/media?access_token=engineer-token' })).statusCode).toBe(401);
    const both = await app.inject({ url: '/media?access_token=engineer-token', headers: { authorization: 'Bearer admin-token' } });
    expect(both.json().id).toBe(2);
  });

  it('requireRole: 403 for other roles, 401 without a token, and composes with authenticate', async () => {
    await build();
    const forbidden = await app.inject({ url: '/admin', headers: { authorization: 'Bearer engineer-token' } });
    expect(forbidden.statusCode).toBe(403);
    expect(forbidden.json().code).toBe('auth.forbidden');
    expect((await app.inject({ url: '/admin', headers: { authorization: 'Bearer admin-token' } })).statusCode).toBe(200);
    const anonymous = await app.inject({ url: '/admin' });
    expect(anonymous.statusCode).toBe(401);
    expect(anonymous.headers['www-authenticate']).toMatch(/^Bearer/);
    expect((await app.inject({ url: '/both', headers: { authorization: 'Bearer engineer-token' } })).statusCode).toBe(200);
  });

  it('problem bodies never echo ?access_token= (instance is redacted like the logs)', async () => {
    await build();
    const res = await app.inject({ url: '/media?x=1&access_token=secret-token-value' });
    expect(res.statusCode).toBe(401);
    expect(res.body).not.toContain('secret-token-value');
    expect(res.json().instance).toBe('/media?x=1&access_token=[redacted]');
  });

  it('requireRole needs a role', () => {
    expect(() => requireRole()).toThrow();
  });
});

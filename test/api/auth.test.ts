import crypto from 'node:crypto';
import { decodeJwt, decodeProtectedHeader, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CacheUnavailableError, type Cache } from '../../src/cache/cache.js';
import { createMemoryCache } from '../../src/cache/memory-cache.js';
import { buildTestApp, type TestApp } from '../helpers/app.js';
import { TEST_ADMIN } from '../helpers/config.js';
import { TEST_REDIS_URL } from '../helpers/databases.js';
import { bearer, createUser, expectProblem, userToken } from './admin-helpers.js';

const SECRET = 'test-secret-test-secret-test-secret-0123456789';
const b64 = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
/** A fresh client address per test, so IP counters never leak between tests (or runs sharing Redis). */
const randomIp = () => `10.${crypto.randomInt(256)}.${crypto.randomInt(256)}.${crypto.randomInt(1, 255)}`;

async function login(t: TestApp, employee_number: string, password: string, ip = randomIp()) {
  return t.app.inject({ method: 'POST', url: '/auth/login', payload: { employee_number, password }, remoteAddress: ip });
}

async function signed(claims: Record<string, unknown>, options: { secret?: string; alg?: string; expiresIn?: number } = {}) {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ role: 'admin', ...claims })
    .setProtectedHeader({ alg: options.alg ?? 'HS256', typ: 'JWT' })
    .setJti(crypto.randomUUID())
    .setIssuedAt(now - 10)
    .setExpirationTime(now + (options.expiresIn ?? 300))
    .sign(new TextEncoder().encode(options.secret ?? SECRET));
}

describe('auth API', () => {
  let t: TestApp;
  let adminToken: string;
  let adminId: number;

  beforeAll(async () => {
    t = await buildTestApp();
    adminToken = await t.login();
    adminId = (await t.app.inject({ url: '/auth/me', headers: bearer(adminToken) })).json().id;
  });
  afterAll(() => t.close());

  describe('login', () => {
    it('returns a short-lived HS256 access token, a refresh token and the user', async () => {
      const res = await login(t, TEST_ADMIN.employeeNumber, TEST_ADMIN.password);
      expect(res.statusCode).toBe(200);
      const body = res.json();
      expect(body).toMatchObject({
        token_type: 'bearer',
        expires_in: t.config.accessTokenTtlSeconds,
        refresh_expires_in: t.config.refreshTokenTtlSeconds,
        user: { employee_number: 'admin', role: 'admin', is_active: true, full_name: expect.any(String) },
      });
      expect(body.user).not.toHaveProperty('password_hash');
      expect(JSON.stringify(body)).not.toMatch(/argon2/);
      expect(decodeProtectedHeader(body.access_token)).toMatchObject({ alg: 'HS256', typ: 'JWT' });
      const claims = decodeJwt(body.access_token);
      expect(claims).toMatchObject({ sub: String(body.user.id), role: 'admin', iss: 'toolcontrol', aud: 'toolcontrol' });
      expect(claims.exp! - claims.iat!).toBe(t.config.accessTokenTtlSeconds);
      expect(claims.jti).toEqual(expect.any(String));
      expect(body.refresh_token).toMatch(/^[A-Za-z0-9_-]{40,}$/);
      // Opaque: not a JWT.
      expect(body.refresh_token.split('.')).toHaveLength(1);
    });

    it('answers a wrong password and an unknown login alike (401 auth.invalid_credentials)', async () => {
      const wrong = await login(t, TEST_ADMIN.employeeNumber, 'not-the-password');
      const unknown = await login(t, 'nobody-here', 'whatever-password');
      expectProblem(wrong, 401, 'auth.invalid_credentials');
      expectProblem(unknown, 401, 'auth.invalid_credentials');
      expect(wrong.json().detail).toBe(unknown.json().detail);
    });

    it('validates the body (422), never reaching the database with odd values', async () => {
      expectProblem(await t.app.inject({ method: 'POST', url: '/auth/login', payload: { employee_number: 'admin' } }), 422, 'request.validation_failed');
      expectProblem(
        await t.app.inject({ method: 'POST', url: '/auth/login', payload: { employee_number: 'admin', password: 'x'.repeat(300) } }),
        422,
        'request.validation_failed',
      );
      const injected = await login(t, "admin' OR '1'='1", "' OR 1=1; --");
      expectProblem(injected, 401, 'auth.invalid_credentials');
    });
  });

  describe('bearer tokens', () => {
    it('GET /auth/me returns the caller without a password hash', async () => {
      const res = await t.app.inject({ url: '/auth/me', headers: bearer(adminToken) });
      expect(res.statusCode).toBe(200);
      expect(res.json()).toMatchObject({ employee_number: 'admin', role: 'admin' });
      expect(res.json()).not.toHaveProperty('password_hash');
    });

    it('401 with WWW-Authenticate: Bearer without a token or with a malformed header', async () => {
      const none = await t.app.inject({ url: '/auth/me' });
      expectProblem(none, 401, 'auth.missing_token');
      expect(none.headers['www-authenticate']).toMatch(/^Bearer/);
      for (const authorization of ['Basic YWRtaW46YWRtaW4=', 'Bearer', 'Bearer a b', `Token ${adminToken}`]) {
        const res = await t.app.inject({ url: '/auth/me', headers: { authorization } });
        expectProblem(res, 401, 'auth.invalid_token');
        expect(res.headers['www-authenticate']).toMatch(/^Bearer .*error="invalid_token"/);
      }
    });

    it('rejects a tampered token (payload changed, signature kept)', async () => {
      const user = await userToken(t, adminToken, 'engineer');
      const [header, payload, signature] = user.token.split('.');
      const claims = JSON.parse(Buffer.from(payload!, 'base64url').toString());
      const forged = `${header}.${b64({ ...claims, role: 'admin', sub: String(adminId) })}.${signature}`;
      const res = await t.app.inject({ url: '/auth/me', headers: bearer(forged) });
      expectProblem(res, 401, 'auth.invalid_token');
      expect(res.headers['www-authenticate']).toMatch(/^Bearer/);
      // A flipped signature byte too.
      const flipped = `${header}.${payload}.${signature!.slice(0, -2)}${signature!.endsWith('AA') ? 'BB' : 'AA'}`;
      expectProblem(await t.app.inject({ url: '/auth/me', headers: bearer(flipped) }), 401);
    });

    it('rejects alg: none', async () => {
      const now = Math.floor(Date.now() / 1000);
      const claims = { sub: String(adminId), role: 'admin', jti: 'x', iat: now, exp: now + 300, iss: 'toolcontrol', aud: 'toolcontrol' };
      for (const alg of ['none', 'None', 'NONE']) {
        const token = `${b64({ alg, typ: 'JWT' })}.${b64(claims)}.`;
        expectProblem(await t.app.inject({ url: '/auth/me', headers: bearer(token) }), 401, 'auth.invalid_token');
      }
    });

    it('rejects a token signed with another secret or another algorithm', async () => {
      const base = { sub: String(adminId), iss: 'toolcontrol', aud: 'toolcontrol' };
      const otherSecret = await signed(base, { secret: 'another-secret-another-secret-another-secret' });
      expectProblem(await t.app.inject({ url: '/auth/me', headers: bearer(otherSecret) }), 401, 'auth.invalid_token');
      const hs512 = await signed(base, { alg: 'HS512' });
      expectProblem(await t.app.inject({ url: '/auth/me', headers: bearer(hs512) }), 401, 'auth.invalid_token');
      // The right secret and algorithm: accepted (so the two above failed for the reason tested).
      expect((await t.app.inject({ url: '/auth/me', headers: bearer(await signed(base)) })).statusCode).toBe(200);
    });

    it('rejects an expired token (401 auth.token_expired)', async () => {
      const expired = await signed({ sub: String(adminId), iss: 'toolcontrol', aud: 'toolcontrol' }, { expiresIn: -60 });
      const res = await t.app.inject({ url: '/auth/me', headers: bearer(expired) });
      expectProblem(res, 401, 'auth.token_expired');
      expect(res.headers['www-authenticate']).toMatch(/^Bearer/);
    });

    it('rejects a wrong issuer or audience, and a token without sub', async () => {
      for (const claims of [
        { sub: String(adminId), iss: 'someone-else', aud: 'toolcontrol' },
        { sub: String(adminId), iss: 'toolcontrol', aud: 'another-service' },
        { iss: 'toolcontrol', aud: 'toolcontrol' },
        { sub: 'admin', iss: 'toolcontrol', aud: 'toolcontrol' },
        { sub: '999999', iss: 'toolcontrol', aud: 'toolcontrol' },
      ]) {
        expectProblem(await t.app.inject({ url: '/auth/me', headers: bearer(await signed(claims)) }), 401);
      }
    });

    it('does not take the token from the query string on ordinary routes', async () => {
      expectProblem(await t.app.inject({ url: `/auth/me?access_token=${adminToken}` }), 401, 'auth.missing_token');
      expectProblem(await t.app.inject({ url: `/api/v1/users?access_token=${adminToken}` }), 422, 'request.validation_failed');
    });
  });

  describe('refresh tokens', () => {
    it('rotate: each refresh spends the token and returns the next one', async () => {
      const first = (await login(t, TEST_ADMIN.employeeNumber, TEST_ADMIN.password)).json();
      const second = await t.app.inject({ method: 'POST', url: '/auth/refresh', payload: { refresh_token: first.refresh_token } });
      expect(second.statusCode).toBe(200);
      const next = second.json();
      expect(next.refresh_token).not.toBe(first.refresh_token);
      expect(next.user.employee_number).toBe('admin');
      expect((await t.app.inject({ url: '/auth/me', headers: bearer(next.access_token) })).statusCode).toBe(200);
      const third = await t.app.inject({ method: 'POST', url: '/auth/refresh', payload: { refresh_token: next.refresh_token } });
      expect(third.statusCode).toBe(200);
    });

    it('a reused refresh token revokes the whole family (theft detection)', async () => {
      const first = (await login(t, TEST_ADMIN.employeeNumber, TEST_ADMIN.password)).json();
      const rotated = (await t.app.inject({ method: 'POST', url: '/auth/refresh', payload: { refresh_token: first.refresh_token } })).json();
      // Someone replays the spent token …
      const replay = await t.app.inject({ method: 'POST', url: '/auth/refresh', payload: { refresh_token: first.refresh_token } });
      expectProblem(replay, 401, 'auth.refresh_token_reused');
      // … and the legitimate holder's current token is dead too.
      const legit = await t.app.inject({ method: 'POST', url: '/auth/refresh', payload: { refresh_token: rotated.refresh_token } });
      expectProblem(legit, 401, 'auth.invalid_refresh_token');
      // The session's access tokens end with it: the thief's and the victim's alike.
      for (const token of [first.access_token, rotated.access_token]) {
        expectProblem(await t.app.inject({ url: '/auth/me', headers: bearer(token) }), 401, 'auth.token_revoked');
      }
      // Other sessions of the same user are untouched.
      const other = (await login(t, TEST_ADMIN.employeeNumber, TEST_ADMIN.password)).json();
      expect((await t.app.inject({ url: '/auth/me', headers: bearer(other.access_token) })).statusCode).toBe(200);
      expect((await t.app.inject({ method: 'POST', url: '/auth/refresh', payload: { refresh_token: other.refresh_token } })).statusCode).toBe(200);
    });

    it('logout ends every access token of the session, not only the one sent with it', async () => {
      const session = (await login(t, TEST_ADMIN.employeeNumber, TEST_ADMIN.password)).json();
      const later = (await t.app.inject({ method: 'POST', url: '/auth/refresh', payload: { refresh_token: session.refresh_token } })).json();
      const out = await t.app.inject({ method: 'POST', url: '/auth/logout', headers: bearer(later.access_token), payload: { refresh_token: later.refresh_token } });
      expect(out.statusCode).toBe(200);
      expectProblem(await t.app.inject({ url: '/auth/me', headers: bearer(session.access_token) }), 401, 'auth.token_revoked');
    });

    it('two concurrent uses of one token: one wins, the family is revoked', async () => {
      const first = (await login(t, TEST_ADMIN.employeeNumber, TEST_ADMIN.password)).json();
      const results = await Promise.all(
        [0, 1].map(() => t.app.inject({ method: 'POST', url: '/auth/refresh', payload: { refresh_token: first.refresh_token } })),
      );
      expect(results.map((r) => r.statusCode).sort()).toEqual([200, 401]);
      const winner = results.find((r) => r.statusCode === 200)!.json();
      expect((await t.app.inject({ method: 'POST', url: '/auth/refresh', payload: { refresh_token: winner.refresh_token } })).statusCode).toBe(401);
    });

    it('unknown or malformed refresh tokens are 401 / 422', async () => {
      expectProblem(
        await t.app.inject({ method: 'POST', url: '/auth/refresh', payload: { refresh_token: crypto.randomBytes(32).toString('base64url') } }),
        401,
        'auth.invalid_refresh_token',
      );
      expectProblem(await t.app.inject({ method: 'POST', url: '/auth/refresh', payload: { refresh_token: 'short' } }), 422, 'request.validation_failed');
      expectProblem(await t.app.inject({ method: 'POST', url: '/auth/refresh', payload: { refresh_token: 'x'.repeat(257) } }), 422, 'request.validation_failed');
      expectProblem(await t.app.inject({ method: 'POST', url: '/auth/refresh', payload: { token: 'x'.repeat(40) } }), 422, 'request.validation_failed');
      // No token at all (and no cookie): 401 saying what to send.
      const missing = await t.app.inject({ method: 'POST', url: '/auth/refresh', payload: {} });
      expectProblem(missing, 401, 'auth.refresh_missing');
      expect(missing.json().detail).toMatch(/refresh_token.*cookie/);
    });

    it('logout revokes the family and the access token sent with it', async () => {
      const session = (await login(t, TEST_ADMIN.employeeNumber, TEST_ADMIN.password)).json();
      const out = await t.app.inject({
        method: 'POST',
        url: '/auth/logout',
        headers: bearer(session.access_token),
        payload: { refresh_token: session.refresh_token },
      });
      expect(out.statusCode).toBe(200);
      expectProblem(await t.app.inject({ method: 'POST', url: '/auth/refresh', payload: { refresh_token: session.refresh_token } }), 401);
      expectProblem(await t.app.inject({ url: '/auth/me', headers: bearer(session.access_token) }), 401, 'auth.token_revoked');
      // Idempotent, and says nothing about unknown tokens.
      expect((await t.app.inject({ method: 'POST', url: '/auth/logout', payload: { refresh_token: session.refresh_token } })).statusCode).toBe(200);
    });
  });

  describe('deactivated users', () => {
    it('cannot use their access token, refresh, or log in', async () => {
      const user = await createUser(t, adminToken, 'engineer');
      const session = (await login(t, user.employee_number, user.password)).json();
      expect((await t.app.inject({ url: '/auth/me', headers: bearer(session.access_token) })).statusCode).toBe(200);

      const patch = await t.app.inject({
        method: 'PATCH',
        url: `/api/v1/users/${user.id}`,
        headers: bearer(adminToken),
        payload: { is_active: false },
      });
      expect(patch.statusCode).toBe(200);
      expect(patch.json().is_active).toBe(false);

      const me = await t.app.inject({ url: '/auth/me', headers: bearer(session.access_token) });
      expectProblem(me, 401, 'auth.account_disabled');
      expect(me.headers['www-authenticate']).toMatch(/^Bearer/);
      expectProblem(await t.app.inject({ method: 'POST', url: '/auth/refresh', payload: { refresh_token: session.refresh_token } }), 401);
      expectProblem(await login(t, user.employee_number, user.password), 401, 'auth.account_disabled');
      // A wrong password on a deactivated account says nothing about the account.
      expectProblem(await login(t, user.employee_number, 'wrong-password'), 401, 'auth.invalid_credentials');

      // Reactivated: logs in again, but the old refresh token stays revoked.
      await t.app.inject({ method: 'PATCH', url: `/api/v1/users/${user.id}`, headers: bearer(adminToken), payload: { is_active: true } });
      expect((await login(t, user.employee_number, user.password)).statusCode).toBe(200);
      expectProblem(await t.app.inject({ method: 'POST', url: '/auth/refresh', payload: { refresh_token: session.refresh_token } }), 401);
    });
  });

  describe('passwords', () => {
    it('a user changes their own password with the old one; every session ends, the caller gets new tokens', async () => {
      const user = await createUser(t, adminToken, 'engineer');
      const session = (await login(t, user.employee_number, user.password)).json();
      const otherSession = (await login(t, user.employee_number, user.password)).json();
      const wrong = await t.app.inject({
        method: 'POST',
        url: '/auth/password',
        headers: bearer(session.access_token),
        payload: { old_password: 'not-my-password', new_password: 'a-brand-new-password' },
      });
      expectProblem(wrong, 400, 'auth.wrong_password');
      const short = await t.app.inject({
        method: 'POST',
        url: '/auth/password',
        headers: bearer(session.access_token),
        payload: { old_password: user.password, new_password: 'short' },
      });
      expectProblem(short, 422, 'request.validation_failed');
      const ok = await t.app.inject({
        method: 'POST',
        url: '/auth/password',
        headers: bearer(session.access_token),
        payload: { old_password: user.password, new_password: 'a-brand-new-password' },
      });
      expect(ok.statusCode).toBe(200);
      const renewed = ok.json();
      expect(renewed).toMatchObject({ ok: true, token_type: 'bearer', user: { id: user.id } });
      // Both sessions are signed out, the calling one included: access and refresh tokens.
      for (const old of [session, otherSession]) {
        expectProblem(await t.app.inject({ method: 'POST', url: '/auth/refresh', payload: { refresh_token: old.refresh_token } }), 401);
        expectProblem(await t.app.inject({ url: '/auth/me', headers: bearer(old.access_token) }), 401, 'auth.token_revoked');
      }
      // The caller carries on with the new pair.
      expect((await t.app.inject({ url: '/auth/me', headers: bearer(renewed.access_token) })).statusCode).toBe(200);
      expect((await t.app.inject({ method: 'POST', url: '/auth/refresh', payload: { refresh_token: renewed.refresh_token } })).statusCode).toBe(200);
      expectProblem(await login(t, user.employee_number, user.password), 401);
      expect((await login(t, user.employee_number, 'a-brand-new-password')).statusCode).toBe(200);
      expectProblem(await t.app.inject({ method: 'POST', url: '/auth/password', payload: { old_password: 'a', new_password: 'b'.repeat(8) } }), 401);
    });

    it('an admin reset ends the user\'s sessions; the new password works', async () => {
      const user = await createUser(t, adminToken, 'storekeeper');
      const session = (await login(t, user.employee_number, user.password)).json();
      expect((await t.app.inject({ url: '/auth/me', headers: bearer(session.access_token) })).statusCode).toBe(200);
      const reset = await t.app.inject({
        method: 'POST',
        url: `/api/v1/users/${user.id}/password`,
        headers: bearer(adminToken),
        payload: { password: 'reset-by-admin-1' },
      });
      expect(reset.statusCode).toBe(200);
      expect(reset.json()).not.toHaveProperty('password_hash');
      expectProblem(await t.app.inject({ method: 'POST', url: '/auth/refresh', payload: { refresh_token: session.refresh_token } }), 401);
      // The access token issued before the reset stops working at once, not when it expires.
      expectProblem(await t.app.inject({ url: '/auth/me', headers: bearer(session.access_token) }), 401, 'auth.token_revoked');
      const fresh = await login(t, user.employee_number, 'reset-by-admin-1');
      expect(fresh.statusCode).toBe(200);
      expect((await t.app.inject({ url: '/auth/me', headers: bearer(fresh.json().access_token) })).statusCode).toBe(200);
    });
  });
});

describe('sign-out times in milliseconds', () => {
  it('a token issued earlier in the same second as a password reset is revoked; one issued after it works', async () => {
    // A clock that the test moves, starting 100 ms into a second.
    let now = Math.floor(Date.now() / 1000) * 1000 + 100;
    const t = await buildTestApp({ overrides: { clock: { now: () => new Date(now) } } });
    try {
      const adminToken = await t.login();
      const user = await createUser(t, adminToken, 'engineer');
      const session = (await login(t, user.employee_number, user.password)).json();
      now += 400; // the same second
      const reset = await t.app.inject({
        method: 'POST',
        url: `/api/v1/users/${user.id}/password`,
        headers: bearer(adminToken),
        payload: { password: 'reset-in-the-same-second' },
      });
      expect(reset.statusCode).toBe(200);
      expectProblem(await t.app.inject({ url: '/auth/me', headers: bearer(session.access_token) }), 401, 'auth.token_revoked');
      now += 100;
      const fresh = (await login(t, user.employee_number, 'reset-in-the-same-second')).json();
      expect((await t.app.inject({ url: '/auth/me', headers: bearer(fresh.access_token) })).statusCode).toBe(200);
    } finally {
      await t.close();
    }
  });
});

describe('auth state without Redis', () => {
  it('survives a flood of the result cache: revocations, login blocks and sessions stay', async () => {
    const t = await buildTestApp();
    try {
      const adminToken = await t.login();
      const user = await createUser(t, adminToken, 'engineer');
      const revoked = (await login(t, user.employee_number, user.password)).json();
      const kept = (await login(t, user.employee_number, user.password)).json();
      await t.app.inject({ method: 'POST', url: '/auth/logout', headers: bearer(revoked.access_token), payload: { refresh_token: revoked.refresh_token } });
      const victim = await createUser(t, adminToken, 'engineer');
      for (let i = 0; i < 5; i++) expectProblem(await login(t, victim.employee_number, 'wrong-password'), 401);
      expectProblem(await login(t, victim.employee_number, victim.password), 429, 'auth.rate_limited');

      // Many photos' results (more than the result cache holds).
      for (let i = 0; i < 12_000; i++) await t.deps.cache.set(`result:flood-${i}`, 'x', 600);

      expectProblem(await t.app.inject({ url: '/auth/me', headers: bearer(revoked.access_token) }), 401, 'auth.token_revoked');
      expectProblem(await login(t, victim.employee_number, victim.password), 429, 'auth.rate_limited');
      expect((await t.app.inject({ method: 'POST', url: '/auth/refresh', payload: { refresh_token: kept.refresh_token } })).statusCode).toBe(200);
    } finally {
      await t.close();
    }
  });
});

describe('login rate limit', () => {
  let t: TestApp;
  let adminToken: string;
  beforeAll(async () => {
    t = await buildTestApp();
    adminToken = await t.login();
  });
  afterAll(() => t.close());

  it('the 6th failed attempt on an account within a minute gets 429 with Retry-After, even with the right password', async () => {
    const user = await createUser(t, adminToken, 'engineer');
    for (let i = 1; i <= 5; i++) {
      expectProblem(await login(t, user.employee_number, `wrong-${i}-password`), 401, 'auth.invalid_credentials');
    }
    const sixth = await login(t, user.employee_number, 'wrong-6-password');
    expectProblem(sixth, 429, 'auth.rate_limited');
    const retryAfter = Number(sixth.headers['retry-after']);
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(sixth.json().retry_after).toBe(retryAfter);
    expectProblem(await login(t, user.employee_number, user.password), 429, 'auth.rate_limited');
    // Other accounts are not locked out by it.
    expect((await login(t, TEST_ADMIN.employeeNumber, TEST_ADMIN.password)).statusCode).toBe(200);
  });

  it('counts concurrent guesses before verifying them: of 20 at once, 5 are verified and 15 get 429', async () => {
    const user = await createUser(t, adminToken, 'engineer');
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => login(t, user.employee_number, `wrong-${i}-password`)));
    const statuses = results.map((r) => r.statusCode);
    expect(statuses.filter((s) => s === 401)).toHaveLength(5);
    expect(statuses.filter((s) => s === 429)).toHaveLength(15);
    for (const res of results.filter((r) => r.statusCode === 429)) expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
    expectProblem(await login(t, user.employee_number, user.password), 429, 'auth.rate_limited');
  });

  it('POST /auth/password: of 20 concurrent wrong current passwords, 5 are verified and 15 get 429', async () => {
    const user = await createUser(t, adminToken, 'engineer');
    const session = (await login(t, user.employee_number, user.password)).json();
    const ip = randomIp();
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        t.app.inject({
          method: 'POST',
          url: '/auth/password',
          headers: bearer(session.access_token),
          payload: { old_password: `wrong-${i}-password`, new_password: 'a-brand-new-password' },
          remoteAddress: ip,
        }),
      ),
    );
    const statuses = results.map((r) => r.statusCode);
    expect(statuses.filter((s) => s === 400)).toHaveLength(5);
    expect(statuses.filter((s) => s === 429)).toHaveLength(15);
    expectProblem(await login(t, user.employee_number, user.password), 429, 'auth.rate_limited');
  });

  it('limits failed attempts per IP across accounts', async () => {
    const ip = randomIp();
    for (let i = 0; i < 20; i++) {
      expectProblem(await login(t, `ghost-${i}-${crypto.randomUUID()}`, 'wrong-password', ip), 401);
    }
    const blocked = await login(t, TEST_ADMIN.employeeNumber, TEST_ADMIN.password, ip);
    expectProblem(blocked, 429, 'auth.rate_limited');
    expect(Number(blocked.headers['retry-after'])).toBeGreaterThan(0);
    // Another address is fine.
    expect((await login(t, TEST_ADMIN.employeeNumber, TEST_ADMIN.password)).statusCode).toBe(200);
  });

  it('a successful login resets the account counter', async () => {
    const user = await createUser(t, adminToken, 'engineer');
    for (let i = 0; i < 4; i++) expectProblem(await login(t, user.employee_number, 'wrong-password'), 401);
    expect((await login(t, user.employee_number, user.password)).statusCode).toBe(200);
    for (let i = 0; i < 4; i++) expectProblem(await login(t, user.employee_number, 'wrong-password'), 401);
    expect((await login(t, user.employee_number, user.password)).statusCode).toBe(200);
  });
});

describe('login rate limit while Redis is down', () => {
  it('still refuses the 6th attempt (in-process counters)', async () => {
    const memory = createMemoryCache();
    // A Redis cache whose every command fails: reads miss, counters read 0, writes are dropped.
    const down: Cache = {
      kind: 'redis',
      get: async () => null,
      getStrict: async () => {
        throw new CacheUnavailableError(new Error('connection refused'));
      },
      decrement: async () => undefined,
      set: async () => undefined,
      setIfAbsent: async () => false,
      del: async () => undefined,
      increment: async (_key, ttlSeconds) => ({ value: 0, ttlSeconds }),
      ping: async () => false,
      close: () => memory.close(),
    };
    const t = await buildTestApp({ overrides: { cache: down } });
    try {
      for (let i = 0; i < 5; i++) expectProblem(await login(t, TEST_ADMIN.employeeNumber, 'wrong-password'), 401);
      const sixth = await login(t, TEST_ADMIN.employeeNumber, 'wrong-password');
      expectProblem(sixth, 429, 'auth.rate_limited');
      expect(Number(sixth.headers['retry-after'])).toBeGreaterThan(0);
    } finally {
      await t.close();
    }
  });

  it('a login whose session cannot be stored is a 503, not tokens that die at the first request', async () => {
    const memory = createMemoryCache();
    // Redis away: writes are dropped without an error, strict reads fail.
    const down: Cache = {
      ...memory,
      kind: 'redis',
      get: async () => null,
      getStrict: async () => {
        throw new CacheUnavailableError(new Error('connection refused'));
      },
      set: async () => undefined,
      setIfAbsent: async () => false,
      ping: async () => false,
    };
    const t = await buildTestApp({ overrides: { cache: down } });
    try {
      const res = await login(t, TEST_ADMIN.employeeNumber, TEST_ADMIN.password);
      expectProblem(res, 503, 'auth.store_unavailable');
      expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
    } finally {
      await t.close();
    }
  });
});

describe.skipIf(!TEST_REDIS_URL)('auth with Redis', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await buildTestApp({ env: { REDIS_URL: TEST_REDIS_URL! } });
  });
  afterAll(() => t.close());

  it('keeps refresh tokens in Redis: rotation and reuse detection', async () => {
    expect(t.deps.cache.kind).toBe('redis');
    const first = (await login(t, TEST_ADMIN.employeeNumber, TEST_ADMIN.password)).json();
    const next = await t.app.inject({ method: 'POST', url: '/auth/refresh', payload: { refresh_token: first.refresh_token } });
    expect(next.statusCode).toBe(200);
    expectProblem(await t.app.inject({ method: 'POST', url: '/auth/refresh', payload: { refresh_token: first.refresh_token } }), 401, 'auth.refresh_token_reused');
    expectProblem(await t.app.inject({ method: 'POST', url: '/auth/refresh', payload: { refresh_token: next.json().refresh_token } }), 401);
  });

  it('counts failed logins in Redis: the 6th gets 429', async () => {
    const adminToken = await t.login();
    const user = await createUser(t, adminToken, 'engineer', { employee_number: `redis-${crypto.randomUUID()}` });
    for (let i = 0; i < 5; i++) expectProblem(await login(t, user.employee_number, 'wrong-password'), 401);
    expectProblem(await login(t, user.employee_number, 'wrong-password'), 429, 'auth.rate_limited');
  });

  it('counts concurrent guesses atomically in Redis: of 20 at once, 15 get 429', async () => {
    const adminToken = await t.login();
    const user = await createUser(t, adminToken, 'engineer', { employee_number: `redis-${crypto.randomUUID()}` });
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => login(t, user.employee_number, `wrong-${i}-password`)));
    expect(results.filter((r) => r.statusCode === 401)).toHaveLength(5);
    expect(results.filter((r) => r.statusCode === 429)).toHaveLength(15);
  });
});

describe('refresh token in a cookie (browsers)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await buildTestApp();
  });
  afterAll(() => t.close());

  const COOKIE = 'toolcontrol_refresh';
  const loginWithCookie = (extra: Record<string, unknown> = {}) =>
    t.app.inject({
      method: 'POST',
      url: '/auth/login',
      payload: { employee_number: TEST_ADMIN.employeeNumber, password: TEST_ADMIN.password, cookie: true, ...extra },
      remoteAddress: randomIp(),
    });
  const refresh = (options: { cookie?: string; payload?: object } = {}) =>
    t.app.inject({
      method: 'POST',
      url: '/auth/refresh',
      ...(options.payload ? { payload: options.payload } : {}),
      ...(options.cookie ? { cookies: { [COOKIE]: options.cookie } } : {}),
    });

  /** The Set-Cookie headers of a response, as [value, sorted attributes] per cookie name. */
  function setCookies(res: { headers: Record<string, unknown> }): Map<string, { value: string; attributes: string[] }> {
    const header = res.headers['set-cookie'];
    const lines = header === undefined ? [] : Array.isArray(header) ? (header as string[]) : [header as string];
    return new Map(
      lines.map((line) => {
        const [pair, ...attributes] = line.split('; ');
        const eq = pair!.indexOf('=');
        return [pair!.slice(0, eq), { value: pair!.slice(eq + 1), attributes: attributes.sort() }];
      }),
    );
  }
  const refreshCookie = (res: { headers: Record<string, unknown> }) => setCookies(res).get(COOKIE);
  const cleared = ['Expires=Thu, 01 Jan 1970 00:00:00 GMT', 'HttpOnly', 'Max-Age=0', 'Path=/auth', 'SameSite=Strict'];

  it('login with cookie: true sets the HttpOnly cookie and leaves the refresh token out of the body', async () => {
    const res = await loginWithCookie();
    expect(res.statusCode, res.body).toBe(200);
    const body = res.json();
    expect(body).not.toHaveProperty('refresh_token');
    expect(res.body).not.toContain(refreshCookie(res)!.value);
    expect(body).toMatchObject({ token_type: 'bearer', refresh_expires_in: t.config.refreshTokenTtlSeconds, user: { employee_number: 'admin' } });
    const cookie = refreshCookie(res)!;
    expect(cookie.value).toMatch(/^[A-Za-z0-9_-]{40,}$/);
    // Exactly these attributes: no Secure over plain HTTP, no Domain.
    expect(cookie.attributes).toEqual(['HttpOnly', `Max-Age=${t.config.refreshTokenTtlSeconds}`, 'Path=/auth', 'SameSite=Strict']);
    expect(setCookies(res).size).toBe(1);
    expect((await t.app.inject({ url: '/auth/me', headers: bearer(body.access_token) })).statusCode).toBe(200);
  });

  it('login without cookie (or cookie: false) answers as before: both tokens in the body, no cookie', async () => {
    const plain = await login(t, TEST_ADMIN.employeeNumber, TEST_ADMIN.password);
    const withFalse = await loginWithCookie({ cookie: false });
    for (const res of [plain, withFalse]) {
      expect(res.statusCode).toBe(200);
      expect(res.headers['set-cookie']).toBeUndefined();
      expect(res.json().refresh_token).toMatch(/^[A-Za-z0-9_-]{40,}$/);
      expect(Object.keys(res.json()).sort()).toEqual(['access_token', 'expires_in', 'refresh_expires_in', 'refresh_token', 'token_type', 'user']);
    }
    expectProblem(await loginWithCookie({ cookie: 'sometimes' }), 422, 'request.validation_failed');
  });

  it('refresh with the cookie alone rotates it: new cookie, no token in the body; the spent one revokes the session', async () => {
    const first = refreshCookie(await loginWithCookie())!.value;
    const res = await refresh({ cookie: first });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).not.toHaveProperty('refresh_token');
    expect(res.json().user.employee_number).toBe('admin');
    const next = refreshCookie(res)!;
    expect(next.value).not.toBe(first);
    expect(next.value).toMatch(/^[A-Za-z0-9_-]{40,}$/);
    expect(next.attributes).toEqual(['HttpOnly', expect.stringMatching(/^Max-Age=\d+$/), 'Path=/auth', 'SameSite=Strict']);
    const maxAge = Number(next.attributes[1]!.slice('Max-Age='.length));
    expect(maxAge).toBe(res.json().refresh_expires_in);
    expect(maxAge).toBeGreaterThan(t.config.refreshTokenTtlSeconds - 60);
    expect(maxAge).toBeLessThanOrEqual(t.config.refreshTokenTtlSeconds);
    const access = res.json().access_token as string;
    expect((await t.app.inject({ url: '/auth/me', headers: bearer(access) })).statusCode).toBe(200);

    // `{}` as the body works the same, with the rotated cookie.
    const again = await refresh({ cookie: next.value, payload: {} });
    expect(again.statusCode, again.body).toBe(200);
    const third = refreshCookie(again)!.value;

    // The first cookie value replayed: reuse, the session is revoked and the cookie cleared.
    const replay = await refresh({ cookie: first });
    expectProblem(replay, 401, 'auth.refresh_token_reused');
    expect(refreshCookie(replay)).toEqual({ value: '', attributes: cleared });
    expectProblem(await refresh({ cookie: third }), 401, 'auth.invalid_refresh_token');
    expectProblem(await t.app.inject({ url: '/auth/me', headers: bearer(access) }), 401, 'auth.token_revoked');
  });

  it('an unknown cookie token is a 401 that clears the cookie; no token at all is 401 auth.refresh_missing', async () => {
    const unknown = await refresh({ cookie: crypto.randomBytes(32).toString('base64url') });
    expectProblem(unknown, 401, 'auth.invalid_refresh_token');
    expect(refreshCookie(unknown)).toEqual({ value: '', attributes: cleared });
    const odd = await refresh({ cookie: 'x' });
    expectProblem(odd, 401, 'auth.invalid_refresh_token');
    expect(refreshCookie(odd)?.attributes).toContain('Max-Age=0');

    for (const res of [
      await t.app.inject({ method: 'POST', url: '/auth/refresh' }),
      await refresh({ payload: {} }),
      await t.app.inject({ method: 'POST', url: '/auth/refresh', cookies: { other: 'x'.repeat(40) } }),
    ]) {
      expectProblem(res, 401, 'auth.refresh_missing');
      expect(res.headers['set-cookie']).toBeUndefined();
    }
  });

  it('a token in the body wins over the cookie: it is spent and returned in the body, the cookie left alone', async () => {
    const inCookie = refreshCookie(await loginWithCookie())!.value;
    const inBody = (await login(t, TEST_ADMIN.employeeNumber, TEST_ADMIN.password)).json().refresh_token as string;
    const res = await refresh({ cookie: inCookie, payload: { refresh_token: inBody } });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json().refresh_token).toMatch(/^[A-Za-z0-9_-]{40,}$/);
    expect(res.headers['set-cookie']).toBeUndefined();
    expectProblem(await refresh({ payload: { refresh_token: inBody } }), 401, 'auth.refresh_token_reused');
    // The cookie's token was not spent.
    expect((await refresh({ cookie: inCookie })).statusCode).toBe(200);
  });

  it('logout with the cookie revokes its session and clears the cookie; the access token then gets 401', async () => {
    const session = await loginWithCookie();
    const token = refreshCookie(session)!.value;
    const access = session.json().access_token as string;
    // No body, no bearer token: the cookie is enough.
    const out = await t.app.inject({ method: 'POST', url: '/auth/logout', cookies: { [COOKIE]: token } });
    expect(out.statusCode, out.body).toBe(200);
    expect(out.json()).toEqual({ ok: true });
    expect(refreshCookie(out)).toEqual({ value: '', attributes: cleared });
    expectProblem(await t.app.inject({ url: '/auth/me', headers: bearer(access) }), 401, 'auth.token_revoked');
    expectProblem(await refresh({ cookie: token }), 401, 'auth.invalid_refresh_token');

    // With `{}` and no cookie: nothing to revoke, still ok, the cookie cleared all the same.
    const empty = await t.app.inject({ method: 'POST', url: '/auth/logout', payload: {} });
    expect(empty.statusCode).toBe(200);
    expect(refreshCookie(empty)).toEqual({ value: '', attributes: cleared });
    const bare = await t.app.inject({ method: 'POST', url: '/auth/logout' });
    expect(bare.statusCode).toBe(200);
    expect(refreshCookie(bare)?.attributes).toContain('Max-Age=0');
  });

  it('logout prefers the body token, and still clears the cookie', async () => {
    const cookieSession = await loginWithCookie();
    const bodySession = (await login(t, TEST_ADMIN.employeeNumber, TEST_ADMIN.password)).json();
    const out = await t.app.inject({
      method: 'POST',
      url: '/auth/logout',
      payload: { refresh_token: bodySession.refresh_token },
      cookies: { [COOKIE]: refreshCookie(cookieSession)!.value },
    });
    expect(out.statusCode).toBe(200);
    expect(refreshCookie(out)?.attributes).toContain('Max-Age=0');
    expectProblem(await t.app.inject({ url: '/auth/me', headers: bearer(bodySession.access_token) }), 401, 'auth.token_revoked');
    expect((await t.app.inject({ url: '/auth/me', headers: bearer(cookieSession.json().access_token) })).statusCode).toBe(200);
  });

  it('a password change that carries the cookie puts the new refresh token in the cookie, not the body', async () => {
    const adminToken = await t.login();
    const user = await createUser(t, adminToken, 'engineer');
    const session = await t.app.inject({
      method: 'POST',
      url: '/auth/login',
      payload: { employee_number: user.employee_number, password: user.password, cookie: true },
      remoteAddress: randomIp(),
    });
    const old = refreshCookie(session)!.value;
    const res = await t.app.inject({
      method: 'POST',
      url: '/auth/password',
      headers: bearer(session.json().access_token),
      cookies: { [COOKIE]: old },
      payload: { old_password: user.password, new_password: 'a-cookie-users-new-password' },
    });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toMatchObject({ ok: true, token_type: 'bearer', user: { id: user.id } });
    expect(res.json()).not.toHaveProperty('refresh_token');
    const renewed = refreshCookie(res)!;
    expect(renewed.value).not.toBe(old);
    expect(renewed.attributes).toEqual(['HttpOnly', `Max-Age=${res.json().refresh_expires_in}`, 'Path=/auth', 'SameSite=Strict']);
    // The old cookie's session is over; the new cookie carries on.
    expectProblem(await refresh({ cookie: old }), 401);
    expect((await refresh({ cookie: renewed.value })).statusCode).toBe(200);
    expect((await t.app.inject({ url: '/auth/me', headers: bearer(res.json().access_token) })).statusCode).toBe(200);
  });
});

describe('refresh cookie behind a proxy', () => {
  it('is Secure when the client reached the proxy over HTTPS (TRUST_PROXY), not otherwise', async () => {
    const payload = { employee_number: TEST_ADMIN.employeeNumber, password: TEST_ADMIN.password, cookie: true };
    const secureOf = (res: { headers: Record<string, unknown> }) => String(res.headers['set-cookie']).split('; ').includes('Secure');
    const proxied = await buildTestApp({ env: { TRUST_PROXY: 'true' } });
    try {
      const https = await proxied.app.inject({ method: 'POST', url: '/auth/login', payload, headers: { 'x-forwarded-proto': 'https' } });
      expect(https.statusCode, https.body).toBe(200);
      expect(String(https.headers['set-cookie'])).toMatch(/^toolcontrol_refresh=[A-Za-z0-9_-]{40,}; /);
      expect(secureOf(https)).toBe(true);
      const token = String(https.headers['set-cookie']).split(';')[0]!.split('=')[1]!;
      const refreshed = await proxied.app.inject({
        method: 'POST',
        url: '/auth/refresh',
        headers: { 'x-forwarded-proto': 'https' },
        cookies: { toolcontrol_refresh: token },
      });
      expect(refreshed.statusCode).toBe(200);
      expect(secureOf(refreshed)).toBe(true);
      const http = await proxied.app.inject({ method: 'POST', url: '/auth/login', payload, headers: { 'x-forwarded-proto': 'http' } });
      expect(secureOf(http)).toBe(false);
    } finally {
      await proxied.close();
    }
    // Without TRUST_PROXY the header is anyone's to send: it is ignored.
    const direct = await buildTestApp();
    try {
      const res = await direct.app.inject({ method: 'POST', url: '/auth/login', payload, headers: { 'x-forwarded-proto': 'https' } });
      expect(res.statusCode).toBe(200);
      expect(secureOf(res)).toBe(false);
    } finally {
      await direct.close();
    }
  });
});

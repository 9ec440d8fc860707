/**
 * The refresh cookie is SameSite=Strict, which keeps it from cross-site requests only: a page on
 * another port of the host or on a sibling subdomain is same-site and gets it sent. Refresh,
 * logout and password change therefore accept the cookie from this origin only (403
 * auth.cross_site otherwise); tokens in the body are unaffected. And CORS never allows
 * credentials for `CORS_ORIGINS=*`.
 */
import crypto from 'node:crypto';
import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTestApp, type TestApp } from '../helpers/app.js';
import { TEST_ADMIN } from '../helpers/config.js';
import { bearer, createUser, expectProblem } from './admin-helpers.js';

const COOKIE = 'toolcontrol_refresh';
/** The origin of an inject request as the service sees it: request.protocol (http) + request.host (light-my-request's Host). */
const OWN_ORIGIN = new URL('http://localhost:80').origin;
/** Same site as localhost:80, another origin: what SameSite=Strict lets through. */
const SAME_SITE_ORIGIN = 'http://localhost:8000';
const EVIL_ORIGIN = 'http://evil.example:8000';
const randomIp = () => `10.${crypto.randomInt(256)}.${crypto.randomInt(256)}.${crypto.randomInt(1, 255)}`;

function refreshCookieOf(res: LightMyRequestResponse): string | undefined {
  const header = res.headers['set-cookie'];
  const lines = header === undefined ? [] : Array.isArray(header) ? header : [String(header)];
  const line = lines.find((l) => l.startsWith(`${COOKIE}=`));
  return line?.split(';')[0]!.slice(COOKIE.length + 1);
}

describe('refresh cookie: same origin only', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await buildTestApp();
  });
  afterAll(() => t.close());

  async function cookieLogin(employee_number = TEST_ADMIN.employeeNumber, password = TEST_ADMIN.password) {
    const res = await t.app.inject({
      method: 'POST',
      url: '/auth/login',
      payload: { employee_number, password, cookie: true },
      remoteAddress: randomIp(),
    });
    expect(res.statusCode, res.body).toBe(200);
    return { cookie: refreshCookieOf(res)!, access: res.json().access_token as string };
  }
  const refresh = (cookie: string, headers: Record<string, string> = {}) =>
    t.app.inject({ method: 'POST', url: '/auth/refresh', headers, cookies: { [COOKIE]: cookie } });

  it('refuses a foreign Origin (403 auth.cross_site), spending nothing: the cookie still works from this origin', async () => {
    const { cookie } = await cookieLogin();
    for (const origin of [EVIL_ORIGIN, SAME_SITE_ORIGIN, 'https://localhost', 'null', 'not a url']) {
      const res = await refresh(cookie, { origin });
      expectProblem(res, 403, 'auth.cross_site');
      expect(res.headers['set-cookie'], origin).toBeUndefined();
      expect(res.body).not.toContain('access_token');
    }
    const ok = await refresh(cookie, { origin: OWN_ORIGIN, 'sec-fetch-site': 'same-origin' });
    expect(ok.statusCode, ok.body).toBe(200);
    expect(ok.json().access_token).toEqual(expect.any(String));
    expect(refreshCookieOf(ok)).toMatch(/^[A-Za-z0-9_-]{40,}$/);
  });

  it('lets Sec-Fetch-Site decide when a browser sends it: behind a TLS proxy the Origin differs from what the service sees', async () => {
    // The proxy terminates https://tools.example:8443 and talks plain HTTP to the service (no TRUST_PROXY).
    const { cookie } = await cookieLogin();
    const ok = await refresh(cookie, { origin: 'https://tools.example:8443', 'sec-fetch-site': 'same-origin' });
    expect(ok.statusCode, ok.body).toBe(200);
    expect(refreshCookieOf(ok)).toMatch(/^[A-Za-z0-9_-]{40,}$/);
  });

  it('refuses Sec-Fetch-Site other than same-origin, even with a matching Origin', async () => {
    const { cookie } = await cookieLogin();
    for (const site of ['same-site', 'cross-site', 'none']) {
      expectProblem(await refresh(cookie, { 'sec-fetch-site': site }), 403, 'auth.cross_site');
      expectProblem(await refresh(cookie, { 'sec-fetch-site': site, origin: OWN_ORIGIN }), 403, 'auth.cross_site');
    }
    expect((await refresh(cookie)).statusCode).toBe(200);
  });

  it('accepts same-origin requests (either header, both, the default port spelt out) and requests with neither', async () => {
    let { cookie } = await cookieLogin();
    const cases: Record<string, string>[] = [
      { 'sec-fetch-site': 'same-origin', origin: OWN_ORIGIN },
      { 'sec-fetch-site': 'same-origin' },
      { origin: OWN_ORIGIN },
      { origin: 'http://localhost:80' },
      { origin: 'HTTP://LOCALHOST' },
      {},
    ];
    for (const headers of cases) {
      const res = await refresh(cookie, headers);
      expect(res.statusCode, `${JSON.stringify(headers)}: ${res.body}`).toBe(200);
      expect(res.json()).not.toHaveProperty('refresh_token');
      cookie = refreshCookieOf(res)!;
    }
  });

  it('a token in the body is unaffected by Origin and Sec-Fetch-Site (API clients)', async () => {
    const login = await t.app.inject({
      method: 'POST',
      url: '/auth/login',
      payload: { employee_number: TEST_ADMIN.employeeNumber, password: TEST_ADMIN.password },
      remoteAddress: randomIp(),
    });
    const res = await t.app.inject({
      method: 'POST',
      url: '/auth/refresh',
      headers: { origin: EVIL_ORIGIN, 'sec-fetch-site': 'cross-site' },
      payload: { refresh_token: login.json().refresh_token },
    });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json().refresh_token).toMatch(/^[A-Za-z0-9_-]{40,}$/);
    // Logout with a body token from anywhere, too.
    const out = await t.app.inject({
      method: 'POST',
      url: '/auth/logout',
      headers: { origin: EVIL_ORIGIN },
      payload: { refresh_token: res.json().refresh_token },
    });
    expect(out.statusCode, out.body).toBe(200);
    expectProblem(await t.app.inject({ url: '/auth/me', headers: bearer(res.json().access_token) }), 401, 'auth.token_revoked');
  });

  it('no token at all from a foreign origin is still 401 auth.refresh_missing', async () => {
    const res = await t.app.inject({ method: 'POST', url: '/auth/refresh', headers: { origin: EVIL_ORIGIN } });
    expectProblem(res, 401, 'auth.refresh_missing');
  });

  it('a cross-site logout is refused: nothing revoked, the cookie not cleared; the session carries on', async () => {
    const { cookie, access } = await cookieLogin();
    for (const headers of [{ origin: SAME_SITE_ORIGIN }, { 'sec-fetch-site': 'same-site' }]) {
      const out = await t.app.inject({ method: 'POST', url: '/auth/logout', headers: { ...headers, ...bearer(access) }, cookies: { [COOKIE]: cookie } });
      expectProblem(out, 403, 'auth.cross_site');
      expect(out.headers['set-cookie']).toBeUndefined();
    }
    // Neither the access token (sent as bearer too) nor the refresh cookie was revoked.
    expect((await t.app.inject({ url: '/auth/me', headers: bearer(access) })).statusCode).toBe(200);
    const next = await refresh(cookie, { origin: OWN_ORIGIN, 'sec-fetch-site': 'same-origin' });
    expect(next.statusCode, next.body).toBe(200);
    // From this origin, logout works as before.
    const out = await t.app.inject({
      method: 'POST',
      url: '/auth/logout',
      headers: { origin: OWN_ORIGIN, 'sec-fetch-site': 'same-origin' },
      cookies: { [COOKIE]: refreshCookieOf(next)! },
    });
    expect(out.statusCode, out.body).toBe(200);
    expect(String(out.headers['set-cookie'])).toContain('Max-Age=0');
    expectProblem(await refresh(refreshCookieOf(next)!), 401, 'auth.invalid_refresh_token');
  });

  it('a cross-site password change carrying the cookie is refused before the password is checked or changed', async () => {
    const admin = await t.login();
    const user = await createUser(t, admin, 'engineer');
    const { cookie, access } = await cookieLogin(user.employee_number, user.password);
    const change = (headers: Record<string, string>) =>
      t.app.inject({
        method: 'POST',
        url: '/auth/password',
        headers: { ...headers, ...bearer(access) },
        cookies: { [COOKIE]: cookie },
        payload: { old_password: user.password, new_password: 'a-cross-site-new-password' },
      });
    const refused = await change({ origin: SAME_SITE_ORIGIN, 'sec-fetch-site': 'same-site' });
    expectProblem(refused, 403, 'auth.cross_site');
    expect(refused.headers['set-cookie']).toBeUndefined();
    // Unchanged: the old password still logs in, the session still works.
    expect((await t.app.inject({ url: '/auth/me', headers: bearer(access) })).statusCode).toBe(200);
    const relogin = await t.app.inject({
      method: 'POST',
      url: '/auth/login',
      payload: { employee_number: user.employee_number, password: user.password },
      remoteAddress: randomIp(),
    });
    expect(relogin.statusCode).toBe(200);
    const done = await change({ origin: OWN_ORIGIN, 'sec-fetch-site': 'same-origin' });
    expect(done.statusCode, done.body).toBe(200);
    expect(refreshCookieOf(done)).toMatch(/^[A-Za-z0-9_-]{40,}$/);
  });
});

describe('refresh cookie origin behind a proxy (TRUST_PROXY)', () => {
  it("compares Origin with the client's scheme and host as the proxy forwards them", async () => {
    const proxied = await buildTestApp({ env: { TRUST_PROXY: 'true' } });
    try {
      const forwarded = { 'x-forwarded-proto': 'https', 'x-forwarded-host': 'tools.example' };
      const login = await proxied.app.inject({
        method: 'POST',
        url: '/auth/login',
        headers: forwarded,
        payload: { employee_number: TEST_ADMIN.employeeNumber, password: TEST_ADMIN.password, cookie: true },
      });
      const cookie = refreshCookieOf(login)!;
      const refresh = (headers: Record<string, string>) =>
        proxied.app.inject({ method: 'POST', url: '/auth/refresh', headers, cookies: { [COOKIE]: cookie } });
      // The page's origin is the proxy's, not the service's own http://localhost.
      expectProblem(await refresh({ ...forwarded, origin: 'http://tools.example' }), 403, 'auth.cross_site');
      expectProblem(await refresh({ ...forwarded, origin: 'https://evil.tools.example' }), 403, 'auth.cross_site');
      expectProblem(await refresh({ ...forwarded, origin: OWN_ORIGIN }), 403, 'auth.cross_site');
      const ok = await refresh({ ...forwarded, origin: 'https://tools.example', 'sec-fetch-site': 'same-origin' });
      expect(ok.statusCode, ok.body).toBe(200);
    } finally {
      await proxied.close();
    }
  });
});

describe('CORS and credentials', () => {
  const preflight = (t: TestApp, origin: string) =>
    t.app.inject({
      method: 'OPTIONS',
      url: '/auth/refresh',
      headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' },
    });
  const simple = (t: TestApp, origin: string) => t.app.inject({ url: '/base/health', headers: { origin } });

  it('CORS_ORIGINS=* allows any origin but never with credentials', async () => {
    const t = await buildTestApp({ env: { CORS_ORIGINS: '*' } });
    try {
      for (const res of [await preflight(t, EVIL_ORIGIN), await simple(t, EVIL_ORIGIN)]) {
        expect(res.statusCode).toBeLessThan(300);
        expect(res.headers['access-control-allow-origin']).toBeDefined();
        expect(res.headers['access-control-allow-credentials']).toBeUndefined();
      }
    } finally {
      await t.close();
    }
  });

  it('an explicit origin list allows credentials for those origins only', async () => {
    const t = await buildTestApp({ env: { CORS_ORIGINS: 'https://tools.example' } });
    try {
      for (const res of [await preflight(t, 'https://tools.example'), await simple(t, 'https://tools.example')]) {
        expect(res.statusCode).toBeLessThan(300);
        expect(res.headers['access-control-allow-origin']).toBe('https://tools.example');
        expect(res.headers['access-control-allow-credentials']).toBe('true');
      }
      for (const res of [await preflight(t, EVIL_ORIGIN), await simple(t, EVIL_ORIGIN)]) {
        expect(res.headers['access-control-allow-origin']).toBeUndefined();
      }
    } finally {
      await t.close();
    }
  });
});

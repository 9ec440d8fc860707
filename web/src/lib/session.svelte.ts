/**
 * The signed-in user. The refresh token lives in an httpOnly cookie the page cannot read
 * (scoped to /auth); the access token only in this module's memory. It is renewed a
 * minute before it expires, and on reload the cookie restores the session.
 *
 * Refresh tokens are single-use and a reused one ends the session (theft detection), so
 * tabs of one browser never refresh at the same time: the refresh runs under a Web Lock
 * shared by every tab, and a tab whose cookie was rotated by another meanwhile simply
 * spends the new one.
 */
import { ApiError, api, ok, problemOf, useTokens, type User } from './api/client';
import { connection } from './connection.svelte';

const state = $state<{ user: User | null; ready: boolean; ended: boolean }>({ user: null, ready: false, ended: false });

let accessToken: string | null = null;
let expiresAt = 0;
let refreshing: Promise<boolean> | null = null;
let timer: ReturnType<typeof setTimeout> | undefined;
/** Bumped by sign-in and sign-out: a refresh answered after either is dropped. */
let generation = 0;

interface Tokens {
  access_token: string;
  expires_in: number;
  user: User;
}

function accept(tokens: Tokens): void {
  accessToken = tokens.access_token;
  expiresAt = Date.now() + tokens.expires_in * 1000;
  state.user = tokens.user;
  state.ended = false;
  clearTimeout(timer);
  timer = setTimeout(() => void refresh().catch(() => undefined), Math.max(5_000, (tokens.expires_in - 60) * 1000));
}

function forget(ended: boolean): void {
  generation += 1;
  accessToken = null;
  expiresAt = 0;
  clearTimeout(timer);
  state.user = null;
  state.ended = ended;
}

function exclusive<T>(work: () => Promise<T>): Promise<T> {
  const locks = globalThis.navigator?.locks;
  return locks ? (locks.request('toolcontrol-refresh', work) as Promise<T>) : work();
}

/**
 * Spend the refresh cookie for a new access token: true when signed in, false when there is
 * no session (401). An unreachable or unavailable server throws an ApiError (and shows the banner).
 */
function refresh(): Promise<boolean> {
  const started = generation;
  refreshing ??= exclusive(async () => {
    let res: Response;
    try {
      res = await fetch('/auth/refresh', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}', credentials: 'same-origin' });
    } catch (err) {
      connection.markUnreachable();
      throw new ApiError(0, 'network', err instanceof Error ? err.message : String(err));
    }
    connection.markReachable();
    if (started !== generation) return state.user !== null;
    if (res.status === 401) {
      forget(state.user !== null);
      return false;
    }
    if (res.status === 503) connection.markUnavailable();
    if (!res.ok) throw problemOf(res.status, await res.json().catch(() => null));
    accept((await res.json()) as Tokens);
    return true;
  }).finally(() => {
    refreshing = null;
  });
  return refreshing;
}

useTokens(
  async () => {
    if (accessToken && Date.now() > expiresAt - 30_000) await refresh().catch(() => false);
    return accessToken;
  },
  () => forget(true),
);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export const session = {
  get user() {
    return state.user;
  },
  get ready() {
    return state.ready;
  },
  /** The session ended by itself (expired, revoked): the sign-in screen says so. */
  get ended() {
    return state.ended;
  },
  get role() {
    return state.user?.role ?? null;
  },
  /** Storekeepers and admins run the counter for others and see everything. */
  get isStaff() {
    return state.user?.role === 'storekeeper' || state.user?.role === 'admin';
  },
  /** On load: the cookie's session, if any. While the server cannot be reached, the banner shows and it tries again. */
  async restore(): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        await refresh();
        break;
      } catch (err) {
        // Only an unreachable or unavailable server is worth waiting for; any other refusal means signing in again.
        const transient = err instanceof ApiError && (err.code === 'network' || err.status === 503);
        if (!transient) break;
        await sleep(Math.min(10_000, 1_000 * 2 ** attempt));
      }
    }
    state.ready = true;
  },
  async login(employeeNumber: string, password: string): Promise<void> {
    generation += 1;
    const tokens = ok(await api.POST('/auth/login', { body: { employee_number: employeeNumber, password, cookie: true } }));
    accept(tokens as Tokens);
  },
  /**
   * Ends the session on the server (and its cookie). If the server cannot be reached the
   * user stays signed in and the error is thrown: on a shared counter tablet, looking signed
   * out while the cookie still works would hand the next person this session.
   */
  async logout(): Promise<void> {
    ok(await api.POST('/auth/logout', { body: {} }));
    forget(false);
  },
};

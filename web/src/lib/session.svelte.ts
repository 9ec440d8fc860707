/**
 * The signed-in user. The refresh token lives in an httpOnly cookie the page cannot read
 * (scoped to /auth); the access token only in this module's memory. It is renewed a
 * minute before it expires, and on reload the cookie restores the session.
 */
import { api, ok, problemOf, useTokens, type User } from './api/client';

const state = $state<{ user: User | null; ready: boolean; ended: boolean }>({ user: null, ready: false, ended: false });

let accessToken: string | null = null;
let expiresAt = 0;
let refreshing: Promise<boolean> | null = null;
let timer: ReturnType<typeof setTimeout> | undefined;

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
  timer = setTimeout(() => void refresh(), Math.max(5_000, (tokens.expires_in - 60) * 1000));
}

function forget(ended: boolean): void {
  accessToken = null;
  expiresAt = 0;
  clearTimeout(timer);
  state.user = null;
  state.ended = ended;
}

/** Spend the refresh cookie for a new access token; false when there is no session. */
function refresh(): Promise<boolean> {
  refreshing ??= (async () => {
    try {
      const res = await fetch('/auth/refresh', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{}',
        credentials: 'same-origin',
      });
      if (res.status === 401) {
        forget(state.user !== null);
        return false;
      }
      if (!res.ok) throw problemOf(res.status, await res.json().catch(() => null));
      accept((await res.json()) as Tokens);
      return true;
    } finally {
      refreshing = null;
    }
  })();
  return refreshing;
}

useTokens(
  async () => {
    if (accessToken && Date.now() > expiresAt - 30_000) await refresh().catch(() => false);
    return accessToken;
  },
  () => forget(true),
);

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
  async restore(): Promise<void> {
    try {
      await refresh();
    } catch {
      // the server is unreachable: the banner says so; sign-in stays available
    } finally {
      state.ready = true;
    }
  },
  async login(employeeNumber: string, password: string): Promise<void> {
    const tokens = ok(await api.POST('/auth/login', { body: { employee_number: employeeNumber, password, cookie: true } }));
    accept(tokens as Tokens);
  },
  async logout(): Promise<void> {
    try {
      await api.POST('/auth/logout', { body: {} });
    } finally {
      forget(false);
    }
  },
};

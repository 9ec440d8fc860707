/**
 * The signed-in user. The refresh token lives in an httpOnly cookie the page cannot read
 * (scoped to /auth); the access token only in this module's memory. It is renewed a
 * minute before it expires, and on reload the cookie restores the session.
 *
 * The tabs of one browser share that cookie, and refresh tokens are single-use (a reused one
 * ends the session), so tabs coordinate:
 * - a refresh runs under a Web Lock shared by every tab (secure contexts: HTTPS, localhost);
 * - every tab tells the others on a BroadcastChannel when it refreshed (they take the new
 *   access token instead of refreshing themselves: the only guard over plain HTTP, with a
 *   random delay so tabs woken together do not refresh at the same moment), signed in or
 *   signed out (they follow: a tab never goes on as someone else).
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
let onForget: () => void = () => undefined;

interface Tokens {
  access_token: string;
  expires_in: number;
  user: User;
}

type Message = { type: 'tokens'; tokens: Tokens; expiresAt: number } | { type: 'signed-in'; userId: number } | { type: 'signed-out' };

const channel = typeof BroadcastChannel === 'undefined' ? null : new BroadcastChannel('toolcontrol-session');
const tell = (message: Message) => channel?.postMessage(message);
const hasLocks = () => !!globalThis.navigator?.locks;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Transient: worth trying again (no connection, the service or its proxy briefly away). */
const transient = (err: unknown) => err instanceof ApiError && (err.code === 'network' || [502, 503, 504].includes(err.status));

function schedule(delayMs: number): void {
  clearTimeout(timer);
  timer = setTimeout(() => void timedRefresh(), Math.max(5_000, delayMs));
}

function accept(tokens: Tokens, at = Date.now() + tokens.expires_in * 1000): void {
  accessToken = tokens.access_token;
  expiresAt = at;
  state.user = tokens.user;
  state.ended = false;
  schedule(expiresAt - Date.now() - 60_000);
}

function forget(ended: boolean): void {
  generation += 1;
  accessToken = null;
  expiresAt = 0;
  clearTimeout(timer);
  state.user = null;
  state.ended = ended;
  onForget();
}

function exclusive<T>(work: () => Promise<T>): Promise<T> {
  const locks = globalThis.navigator?.locks;
  return locks ? (locks.request('toolcontrol-refresh', work) as Promise<T>) : work();
}

async function timedRefresh(): Promise<void> {
  const seen = expiresAt;
  // Without Web Locks, tabs woken together would refresh at once: wait a moment, and skip if another tab did.
  if (!hasLocks()) await sleep(Math.random() * 3_000);
  if (expiresAt !== seen || !state.user) return;
  try {
    await refresh();
  } catch {
    schedule(30_000); // the server is away: try again soon, the session is not over
  }
}

/**
 * Spend the refresh cookie for a new access token: true when signed in, false when there is
 * no session (401). An unreachable or unavailable server throws an ApiError (and shows the banner).
 */
function refresh(): Promise<boolean> {
  const started = generation;
  const before = expiresAt;
  refreshing ??= exclusive(async () => {
    // Another tab refreshed while this one waited for the lock: its token is here already.
    if (expiresAt !== before && accessToken && Date.now() < expiresAt - 30_000) return true;
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
    const tokens = (await res.json()) as Tokens;
    // The cookie belongs to whoever signed in last in this browser: never go on as them.
    if (state.user && tokens.user.id !== state.user.id) {
      forget(true);
      return false;
    }
    accept(tokens);
    tell({ type: 'tokens', tokens, expiresAt });
    return true;
  }).finally(() => {
    refreshing = null;
  });
  return refreshing;
}

channel?.addEventListener('message', (event: MessageEvent<Message>) => {
  const message = event.data;
  if (message.type === 'tokens') {
    if (state.user?.id === message.tokens.user.id) accept(message.tokens, message.expiresAt);
  } else if (message.type === 'signed-in') {
    if (state.user && state.user.id !== message.userId) forget(true);
  } else if (message.type === 'signed-out') {
    if (state.user) forget(true);
  }
});

useTokens(
  async () => {
    if (accessToken && Date.now() > expiresAt - 30_000) {
      try {
        await refresh();
      } catch (err) {
        // Sending a token known to be expired would read as a signed-out user: say what really failed.
        if (Date.now() >= expiresAt) throw err;
      }
    }
    return accessToken;
  },
  // A 401 on an API call: the session ends only if the refresh cookie is refused too.
  () => void refresh().catch(() => undefined),
);

export const session = {
  get user() {
    return state.user;
  },
  get ready() {
    return state.ready;
  },
  /** The session ended by itself (expired, revoked, another sign-in): the sign-in screen says so. */
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
  /** Called whenever the session ends (caches of the user's data are dropped). */
  onForget(handler: () => void) {
    onForget = handler;
  },
  /** On load: the cookie's session, if any. While the server cannot be reached, the banner shows and it tries again. */
  async restore(): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        await refresh();
        break;
      } catch (err) {
        // Only an unreachable or briefly unavailable server is worth waiting for; any other refusal means signing in again.
        if (!transient(err)) break;
        await sleep(Math.min(10_000, 1_000 * 2 ** attempt));
      }
    }
    state.ready = true;
  },
  async login(employeeNumber: string, password: string): Promise<void> {
    generation += 1;
    // Under the lock: a refresh in another tab must not spend the cookie this login replaces.
    const tokens = await exclusive(async () => ok(await api.POST('/auth/login', { body: { employee_number: employeeNumber, password, cookie: true } })));
    accept(tokens as Tokens);
    tell({ type: 'signed-in', userId: (tokens as Tokens).user.id });
  },
  /**
   * Ends the session on the server (and its cookie), and in every tab. If the server cannot be
   * reached the user stays signed in and the error is thrown: on a shared counter tablet,
   * looking signed out while the session still works would hand the next person this session.
   * Once the server has answered at all it has cleared the cookie, so this tab lets go too.
   */
  async logout(): Promise<void> {
    try {
      ok(await api.POST('/auth/logout', { body: {} }));
    } catch (err) {
      const refused = err instanceof ApiError && (err.code === 'network' || err.code === 'auth.cross_site');
      if (refused) throw err;
    }
    forget(false);
    tell({ type: 'signed-out' });
  },
};

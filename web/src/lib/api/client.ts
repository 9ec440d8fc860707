/**
 * The typed API client (openapi-fetch over the types generated from the service's
 * /openapi.json). Every call carries the in-memory access token, refreshed silently
 * before it expires; a problem+json answer becomes an ApiError with the API's code and
 * detail, an unreachable server an ApiError with code `network` (and the offline banner).
 */
import createClient, { type Middleware } from 'openapi-fetch';
import { connection } from '../connection.svelte';
import type { components, paths } from './schema';

export type Schemas = components['schemas'];
export type Toolkit = Schemas['Toolkit'];
export type Operation = Schemas['Operation'];
export type User = Schemas['User'];
export type Detection = Schemas['Detection'];
export type AuditEntry = Schemas['ReviewAuditEntry'];
export type Problem = Schemas['Problem'];

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly detail: string,
    readonly errors: Array<{ field: string; message: string }> = [],
  ) {
    super(detail);
  }
}

/** Supplies the access token (refreshing it when needed); set by the session. */
let tokenSource: () => Promise<string | null> = async () => null;
let onUnauthorized: () => void = () => undefined;

export function useTokens(source: () => Promise<string | null>, unauthorized: () => void): void {
  tokenSource = source;
  onUnauthorized = unauthorized;
}

export async function authHeader(): Promise<Record<string, string>> {
  const token = await tokenSource();
  return token ? { authorization: `Bearer ${token}` } : {};
}

const auth: Middleware = {
  async onRequest({ request }) {
    if (!request.url.includes('/auth/login') && !request.url.includes('/auth/refresh')) {
      const token = await tokenSource();
      if (token) request.headers.set('authorization', `Bearer ${token}`);
    }
    return request;
  },
  async onResponse({ response }) {
    connection.markReachable();
    if (response.status === 401 && !response.url.includes('/auth/')) onUnauthorized();
    if (response.status === 503) connection.markUnavailable();
    return response;
  },
};

/** fetch that reports an unreachable server instead of throwing a bare TypeError. */
async function trackedFetch(input: Request): Promise<Response> {
  try {
    return await fetch(input);
  } catch (err) {
    connection.markUnreachable();
    throw new ApiError(0, 'network', err instanceof Error ? err.message : String(err));
  }
}

export const api = createClient<paths>({ baseUrl: globalThis.location?.origin ?? '', fetch: trackedFetch });
api.use(auth);

/** The body of a problem+json answer, as an ApiError. */
export function problemOf(status: number, body: unknown): ApiError {
  const p = (body ?? {}) as Partial<Problem> & { errors?: Array<{ field: string; message: string }> };
  return new ApiError(status, String(p.code ?? `http.${status}`), String(p.detail ?? p.title ?? ''), p.errors ?? []);
}

/** The data of an openapi-fetch result, or its problem thrown as an ApiError. */
export function ok<T>(result: { data?: T; error?: unknown; response: Response }): T {
  if (result.error !== undefined || result.data === undefined) throw problemOf(result.response.status, result.error);
  return result.data;
}

/** The X-Total-Count of a list answer. */
export function totalOf(response: Response): number | null {
  const raw = response.headers.get('x-total-count');
  return raw === null ? null : Number(raw);
}

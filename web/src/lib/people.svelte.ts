/**
 * Names for the ids operations carry (engineer, who acted, reviewer): the user list for
 * staff, the signed-in user for an engineer (who sees only their own operations).
 */
import { api, ok, type User } from './api/client';
import { session } from './session.svelte';

let cache: Promise<Map<number, User>> | null = null;
session.onForget(() => {
  cache = null;
});

export function people(): Promise<Map<number, User>> {
  const me = session.user;
  if (!session.isStaff) return Promise.resolve(new Map(me ? [[me.id, me]] : []));
  cache ??= api
    .GET('/api/v1/users', { params: { query: { limit: 500 } } })
    .then((r) => new Map(ok(r).items.map((u) => [u.id, u])))
    .catch((err) => {
      cache = null;
      throw err;
    });
  return cache;
}

export function nameOf(map: Map<number, User>, id: number | null | undefined): string {
  if (id === null || id === undefined) return '—';
  const u = map.get(id);
  return u ? `${u.full_name} (${u.employee_number})` : `#${id}`;
}

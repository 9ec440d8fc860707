/**
 * The last active admin stays one even when the only two admins demote each other at
 * the same moment (two transactions on two connections: PostgreSQL; PGlite has one
 * connection and serialises them anyway).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTestApp, type TestApp } from '../helpers/app.js';
import { BACKENDS } from '../helpers/databases.js';
import { createUser } from '../helpers/users.js';

describe.each(BACKENDS)('two admins demoting each other at once on %s', (backend) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await buildTestApp({ backend });
  });
  afterAll(() => t?.close());

  const patch = (token: string, id: number, payload: Record<string, unknown>) =>
    t.app.inject({ method: 'PATCH', url: `/api/v1/users/${id}`, headers: { authorization: `Bearer ${token}` }, payload });

  it('one wins, the other is refused, and exactly one active admin remains', async () => {
    let sole = { token: await t.login(), id: (await t.app.inject({ url: '/auth/me', headers: { authorization: `Bearer ${await t.login()}` } })).json().id as number };
    for (let round = 0; round < 6; round++) {
      const p = await createUser(t, sole.token, 'admin', `pa-${backend}-${round}`);
      const q = await createUser(t, sole.token, 'admin', `qa-${backend}-${round}`);
      expect((await patch(p.token, sole.id, { is_active: false })).statusCode).toBe(200);
      // Now p and q are the only active admins.
      const [a, b] = await Promise.all([patch(p.token, q.id, { is_active: false }), patch(q.token, p.id, { role: 'engineer' })]);
      // One wins. The other is refused: 409 when both got past authentication before the winner
      // committed; else 401 if the winner had already deactivated it (p's request), 403 if the
      // winner had already made it an engineer (q's request).
      expect([a.statusCode, b.statusCode].filter((s) => s === 200), `${a.body} ${b.body}`).toHaveLength(1);
      const loser = a.statusCode === 200 ? b : a;
      const lateRefusal = a.statusCode === 200 ? 'auth.account_disabled' : 'auth.forbidden';
      expect(['user.last_admin', lateRefusal]).toContain(loser.json().code);
      sole = a.statusCode === 200 ? p : q;
      const admins = await t.app.inject({ url: '/api/v1/users?role=admin&limit=100', headers: { authorization: `Bearer ${sole.token}` } });
      expect(admins.statusCode, admins.body).toBe(200);
      const active = (admins.json().items ?? admins.json()).filter((u: { is_active: boolean; role: string }) => u.is_active && u.role === 'admin');
      expect(active.map((u: { id: number }) => u.id)).toEqual([sole.id]);
    }
  });
});

import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { operations, toolkits as toolkitsTable } from '../../src/db/schema/index.js';
import { TOOL_CLASS_KEYS } from '../../src/domain/tool-classes.js';
import { buildTestApp, type TestApp } from '../helpers/app.js';
import { bearer, createUser, expectProblem, userToken } from './admin-helpers.js';

/** Every administration route, with a body that would be valid. */
const ADMIN_ROUTES: Array<{ method: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE'; url: string; payload?: object; storekeeperMayRead?: true }> = [
  { method: 'GET', url: '/api/v1/users', storekeeperMayRead: true },
  { method: 'POST', url: '/api/v1/users', payload: { employee_number: 'x-1', full_name: 'X', role: 'engineer', password: 'password-1' } },
  { method: 'GET', url: '/api/v1/users/1', storekeeperMayRead: true },
  { method: 'PATCH', url: '/api/v1/users/1', payload: { full_name: 'Y' } },
  { method: 'POST', url: '/api/v1/users/1/password', payload: { password: 'password-2' } },
  { method: 'GET', url: '/api/v1/tools', storekeeperMayRead: true },
  { method: 'POST', url: '/api/v1/tools', payload: { name: 'Бокорезы', class_key: 'side_cutters' } },
  { method: 'GET', url: '/api/v1/tools/1', storekeeperMayRead: true },
  { method: 'PATCH', url: '/api/v1/tools/1', payload: { category: 'c' } },
  { method: 'DELETE', url: '/api/v1/tools/1' },
  { method: 'POST', url: '/api/v1/toolkits', payload: { name: 'K', items: [{ tool_id: 1, quantity: 1 }] } },
  { method: 'PATCH', url: '/api/v1/toolkits/1', payload: { description: 'd' } },
  { method: 'PUT', url: '/api/v1/toolkits/1/items', payload: { items: [{ tool_id: 1, quantity: 1 }] } },
  { method: 'DELETE', url: '/api/v1/toolkits/1' },
  { method: 'GET', url: '/api/v1/model/aliases', storekeeperMayRead: true },
  { method: 'PUT', url: '/api/v1/model/aliases/seven', payload: { class_key: 'pliers' } },
  { method: 'DELETE', url: '/api/v1/model/aliases/seven' },
  { method: 'GET', url: '/api/v1/model/thresholds', storekeeperMayRead: true },
  { method: 'PUT', url: '/api/v1/model/thresholds/pliers', payload: { threshold: 0.6 } },
  { method: 'DELETE', url: '/api/v1/model/thresholds/pliers' },
];

describe('administration API', () => {
  let t: TestApp;
  let adminToken: string;
  let engineer: { id: number; token: string };
  let storekeeper: { id: number; token: string };
  const asAdmin = (method: string, url: string, payload?: object) =>
    t.app.inject({ method: method as 'GET', url, headers: bearer(adminToken), ...(payload ? { payload } : {}) });

  beforeAll(async () => {
    t = await buildTestApp();
    adminToken = await t.login();
    engineer = await userToken(t, adminToken, 'engineer');
    storekeeper = await userToken(t, adminToken, 'storekeeper');
  });
  afterAll(() => t.close());

  describe('roles', () => {
    it('an engineer gets 403 on every administration route, and nothing changes', async () => {
      const before = await asAdmin('GET', '/api/v1/users');
      for (const route of ADMIN_ROUTES) {
        const res = await t.app.inject({ method: route.method, url: route.url, headers: bearer(engineer.token), ...(route.payload ? { payload: route.payload } : {}) });
        expect(res.statusCode, `${route.method} ${route.url}`).toBe(403);
        expectProblem(res, 403, 'auth.forbidden');
      }
      expect((await asAdmin('GET', '/api/v1/users')).json().total).toBe(before.json().total);
      expect((await asAdmin('GET', '/api/v1/tools/1')).statusCode).toBe(200);
    });

    it('a storekeeper reads users, tools, aliases and thresholds but changes none', async () => {
      for (const route of ADMIN_ROUTES) {
        const res = await t.app.inject({ method: route.method, url: route.url, headers: bearer(storekeeper.token), ...(route.payload ? { payload: route.payload } : {}) });
        expect(res.statusCode, `${route.method} ${route.url}`).toBe(route.storekeeperMayRead ? 200 : 403);
      }
    });

    it('without a token every route is 401 with WWW-Authenticate', async () => {
      for (const route of [...ADMIN_ROUTES, { method: 'GET' as const, url: '/api/v1/toolkits' }, { method: 'GET' as const, url: '/api/v1/toolkits/1' }]) {
        const res = await t.app.inject({ method: route.method, url: route.url, ...('payload' in route && route.payload ? { payload: route.payload } : {}) });
        expect(res.statusCode, `${route.method} ${route.url}`).toBe(401);
        expect(res.headers['www-authenticate']).toMatch(/^Bearer/);
      }
    });
  });

  describe('users', () => {
    it('creates, reads, lists and edits users; never shows a password hash', async () => {
      const created = await asAdmin('POST', '/api/v1/users', {
        employee_number: 'ТН-1001',
        full_name: 'Иванов Иван Иванович',
        role: 'engineer',
        password: 'engineer-password',
      });
      expect(created.statusCode).toBe(201);
      const user = created.json();
      expect(user).toMatchObject({ employee_number: 'ТН-1001', full_name: 'Иванов Иван Иванович', role: 'engineer', is_active: true });
      expect(Object.keys(user).sort()).toEqual(['created_at', 'employee_number', 'full_name', 'id', 'is_active', 'role', 'updated_at']);

      expect((await asAdmin('GET', `/api/v1/users/${user.id}`)).json()).toEqual(user);
      const list = await asAdmin('GET', '/api/v1/users?role=engineer&q=иванов');
      expect(list.json()).toMatchObject({ total: 1, skip: 0, items: [{ id: user.id }] });
      expect(JSON.stringify((await asAdmin('GET', '/api/v1/users?limit=500')).json())).not.toMatch(/password|argon2/);

      const edited = await asAdmin('PATCH', `/api/v1/users/${user.id}`, { full_name: 'Иванов И. И.', role: 'storekeeper' });
      expect(edited.json()).toMatchObject({ full_name: 'Иванов И. И.', role: 'storekeeper' });
      // The new role applies to the user's existing token at once.
      const token = await t.login('ТН-1001', 'engineer-password');
      expect((await t.app.inject({ url: '/api/v1/users', headers: bearer(token) })).statusCode).toBe(200);
    });

    it('409 user.employee_number_taken for a duplicate employee number', async () => {
      const res = await asAdmin('POST', '/api/v1/users', { employee_number: 'admin', full_name: 'Другой', role: 'engineer', password: 'password-123' });
      expectProblem(res, 409, 'user.employee_number_taken');
    });

    it('validates input: role, password length, unknown fields, empty patch', async () => {
      const base = { employee_number: 'v-1', full_name: 'V', role: 'engineer', password: 'password-123' };
      expectProblem(await asAdmin('POST', '/api/v1/users', { ...base, role: 'superuser' }), 422, 'request.validation_failed');
      expectProblem(await asAdmin('POST', '/api/v1/users', { ...base, password: 'short' }), 422, 'request.validation_failed');
      expectProblem(await asAdmin('POST', '/api/v1/users', { ...base, password_hash: 'x' }), 422, 'request.validation_failed');
      expectProblem(await asAdmin('POST', '/api/v1/users', { ...base, employee_number: ' padded ' }), 422, 'request.validation_failed');
      expectProblem(await asAdmin('PATCH', `/api/v1/users/${engineer.id}`, {}), 422, 'request.validation_failed');
      expectProblem(await asAdmin('PATCH', `/api/v1/users/${engineer.id}`, { employee_number: 'changed' }), 422, 'request.validation_failed');
    });

    it('404 for an unknown user', async () => {
      expectProblem(await asAdmin('GET', '/api/v1/users/999999'), 404, 'user.not_found');
      expectProblem(await asAdmin('PATCH', '/api/v1/users/999999', { full_name: 'N' }), 404, 'user.not_found');
      expectProblem(await asAdmin('POST', '/api/v1/users/999999/password', { password: 'password-123' }), 404, 'user.not_found');
    });

    it('the last active admin cannot be deactivated or demoted', async () => {
      const me = (await t.app.inject({ url: '/auth/me', headers: bearer(adminToken) })).json();
      expectProblem(await asAdmin('PATCH', `/api/v1/users/${me.id}`, { is_active: false }), 409, 'user.last_admin');
      expectProblem(await asAdmin('PATCH', `/api/v1/users/${me.id}`, { role: 'engineer' }), 409, 'user.last_admin');
      // With a second admin it is allowed (and undone here).
      const second = await createUser(t, adminToken, 'admin');
      expect((await asAdmin('PATCH', `/api/v1/users/${second.id}`, { is_active: false })).statusCode).toBe(200);
    });
  });

  describe('tools', () => {
    it('registers, lists, edits and deletes a tool without history', async () => {
      const created = await asAdmin('POST', '/api/v1/tools', {
        name: 'Бокорезы',
        serial_number: 'SN-BK-2',
        category: 'Шарнирно-губцевый инструмент',
        class_key: 'side_cutters',
      });
      expect(created.statusCode).toBe(201);
      const tool = created.json();
      expect(tool).toMatchObject({ name: 'Бокорезы', serial_number: 'SN-BK-2', class_key: 'side_cutters', is_active: true });

      const list = (await asAdmin('GET', '/api/v1/tools?class_key=side_cutters')).json();
      expect(list.items.map((i: { id: number }) => i.id)).toContain(tool.id);
      expect(list.items.every((i: { class_key: string }) => i.class_key === 'side_cutters')).toBe(true);
      expect((await asAdmin('GET', '/api/v1/tools?q=SN-BK')).json().total).toBe(1);

      const edited = await asAdmin('PATCH', `/api/v1/tools/${tool.id}`, { serial_number: null, is_active: false });
      expect(edited.json()).toMatchObject({ serial_number: null, is_active: false, name: 'Бокорезы' });
      expect((await asAdmin('GET', '/api/v1/tools?active=false')).json().items.map((i: { id: number }) => i.id)).toContain(tool.id);

      expect((await asAdmin('DELETE', `/api/v1/tools/${tool.id}`)).json()).toEqual({ ok: true });
      expectProblem(await asAdmin('GET', `/api/v1/tools/${tool.id}`), 404, 'tool.not_found');
      expectProblem(await asAdmin('DELETE', `/api/v1/tools/${tool.id}`), 404, 'tool.not_found');
    });

    it('409 tool.serial_number_taken on create and on edit', async () => {
      expectProblem(await asAdmin('POST', '/api/v1/tools', { name: 'Пассатижи', serial_number: 'REF-006', class_key: 'pliers' }), 409, 'tool.serial_number_taken');
      const other = (await asAdmin('POST', '/api/v1/tools', { name: 'Пассатижи', serial_number: 'SN-P-2', class_key: 'pliers' })).json();
      expectProblem(await asAdmin('PATCH', `/api/v1/tools/${other.id}`, { serial_number: 'REF-006' }), 409, 'tool.serial_number_taken');
    });

    it('class_key must be one the detector knows', async () => {
      const res = await asAdmin('POST', '/api/v1/tools', { name: 'Молоток', class_key: 'hammer' });
      expectProblem(res, 422, 'request.validation_failed');
      expect(res.json().errors[0].field).toBe('body.class_key');
      expect(TOOL_CLASS_KEYS).toContain('side_cutters');
    });

    it('a tool in a kit with operations cannot be deleted (409 tool.has_history); it can be deactivated', async () => {
      const tool = (await asAdmin('POST', '/api/v1/tools', { name: 'Шэрница', serial_number: 'SN-SH-9', class_key: 'shernitsa' })).json();
      const kit = (await asAdmin('POST', '/api/v1/toolkits', { name: 'Набор с историей', items: [{ tool_id: tool.id, quantity: 1 }] })).json();
      await t.deps.db.insert(operations).values({
        userId: engineer.id,
        actedById: engineer.id,
        toolkitId: kit.id,
        operationType: 'checkout',
        status: 'success',
        resultJson: {},
        modelSha256: 'test',
        originalImageKey: 'o.jpg',
        annotatedImageKey: 'a.jpg',
      });
      expectProblem(await asAdmin('DELETE', `/api/v1/tools/${tool.id}`), 409, 'tool.has_history');
      expect((await asAdmin('PATCH', `/api/v1/tools/${tool.id}`, { is_active: false })).json().is_active).toBe(false);
    });

    it('deleting a tool without history takes it out of kits that never had operations', async () => {
      const tool = (await asAdmin('POST', '/api/v1/tools', { name: 'Коловорот', class_key: 'brace' })).json();
      const kit = (await asAdmin('POST', '/api/v1/toolkits', { name: 'Набор без истории', items: [{ tool_id: tool.id, quantity: 2 }, { tool_id: 1, quantity: 1 }] })).json();
      expect((await asAdmin('DELETE', `/api/v1/tools/${tool.id}`)).statusCode).toBe(200);
      expect((await asAdmin('GET', `/api/v1/toolkits/${kit.id}`)).json().items.map((i: { tool_id: number }) => i.tool_id)).toEqual([1]);
    });
  });

  describe('aliases and thresholds', () => {
    it('sets, lists and removes aliases', async () => {
      const initial = (await asAdmin('GET', '/api/v1/model/aliases')).json();
      expect(initial).toContainEqual(expect.objectContaining({ model_class_name: 'Шэрница', class_key: 'shernitsa' }));
      const put = await asAdmin('PUT', `/api/v1/model/aliases/${encodeURIComponent('7')}`, { class_key: 'side_cutters' });
      expect(put.json()).toMatchObject({ model_class_name: '7', class_key: 'side_cutters' });
      expect((await asAdmin('PUT', '/api/v1/model/aliases/7', { class_key: 'pliers' })).json().class_key).toBe('pliers');
      const listed = (await asAdmin('GET', '/api/v1/model/aliases')).json();
      expect(listed.filter((a: { model_class_name: string }) => a.model_class_name === '7')).toHaveLength(1);
      expect((await asAdmin('DELETE', '/api/v1/model/aliases/7')).statusCode).toBe(200);
      expectProblem(await asAdmin('DELETE', '/api/v1/model/aliases/7'), 404, 'alias.not_found');
      expectProblem(await asAdmin('PUT', '/api/v1/model/aliases/7', { class_key: 'hammer' }), 422, 'request.validation_failed');
    });

    it('sets, lists and removes per-class thresholds (0..1)', async () => {
      const put = await asAdmin('PUT', '/api/v1/model/thresholds/side_cutters', { threshold: 0.35 });
      expect(put.statusCode).toBe(200);
      const me = (await t.app.inject({ url: '/auth/me', headers: bearer(adminToken) })).json();
      expect(put.json()).toMatchObject({ class_key: 'side_cutters', threshold: 0.35, updated_by: me.id });
      expect((await asAdmin('PUT', '/api/v1/model/thresholds/side_cutters', { threshold: 0.4 })).json().threshold).toBe(0.4);
      expect((await asAdmin('GET', '/api/v1/model/thresholds')).json()).toEqual([expect.objectContaining({ class_key: 'side_cutters', threshold: 0.4 })]);
      expectProblem(await asAdmin('PUT', '/api/v1/model/thresholds/side_cutters', { threshold: 1.5 }), 422, 'request.validation_failed');
      expectProblem(await asAdmin('PUT', '/api/v1/model/thresholds/side_cutters', { threshold: -0.1 }), 422, 'request.validation_failed');
      expectProblem(await asAdmin('PUT', '/api/v1/model/thresholds/hammer', { threshold: 0.5 }), 422, 'request.validation_failed');
      expect((await asAdmin('DELETE', '/api/v1/model/thresholds/side_cutters')).statusCode).toBe(200);
      expectProblem(await asAdmin('DELETE', '/api/v1/model/thresholds/side_cutters'), 404, 'threshold.not_found');
    });
  });

  describe('SQL-looking input is harmless', () => {
    const tableCount = async () => {
      const result = await t.deps.db.execute(sql`select count(*)::int as n from information_schema.tables where table_schema = 'public'`);
      return Number((result as unknown as { rows: Array<{ n: number }> }).rows[0]!.n);
    };

    it('in path parameters: 422, never a query', async () => {
      for (const url of [
        `/api/v1/users/${encodeURIComponent('1 OR 1=1')}`,
        `/api/v1/tools/${encodeURIComponent('1; DROP TABLE tools;--')}`,
        `/api/v1/toolkits/${encodeURIComponent("1' OR '1'='1")}`,
      ]) {
        expectProblem(await asAdmin('GET', url), 422, 'request.validation_failed');
      }
      expectProblem(await asAdmin('PUT', `/api/v1/model/thresholds/${encodeURIComponent("pliers' OR 1=1 --")}`, { threshold: 0.5 }), 422, 'request.validation_failed');
    });

    it('in filters: 422 for enumerations, plain text for searches', async () => {
      expectProblem(await asAdmin('GET', `/api/v1/users?role=${encodeURIComponent("admin' OR '1'='1")}`), 422, 'request.validation_failed');
      expectProblem(await asAdmin('GET', `/api/v1/toolkits?status=${encodeURIComponent('1 OR 1=1')}`), 422, 'request.validation_failed');
      expectProblem(await asAdmin('GET', `/api/v1/users?skip=${encodeURIComponent('0; DROP TABLE users')}`), 422, 'request.validation_failed');
      expectProblem(await asAdmin('GET', `/api/v1/tools?active=${encodeURIComponent('true OR 1=1')}`), 422, 'request.validation_failed');
      const search = await asAdmin('GET', `/api/v1/users?q=${encodeURIComponent("' OR 1=1 --")}`);
      expect(search.statusCode).toBe(200);
      expect(search.json().total).toBe(0);
      // LIKE wildcards are literal too.
      expect((await asAdmin('GET', `/api/v1/tools?q=${encodeURIComponent('%')}`)).json().total).toBe(0);
      expect((await asAdmin('GET', `/api/v1/tools?q=${encodeURIComponent('_')}`)).json().total).toBe(0);
    });

    it('in bodies: stored as plain strings, tables intact', async () => {
      const tablesBefore = await tableCount();
      const evil = "'; DROP TABLE users;--";
      const user = await asAdmin('POST', '/api/v1/users', { employee_number: "1 OR 1=1", full_name: evil, role: 'engineer', password: "' OR ''='" + 'xxxxxxxx' });
      expect(user.statusCode).toBe(201);
      expect(user.json()).toMatchObject({ employee_number: '1 OR 1=1', full_name: evil });
      expect((await t.login('1 OR 1=1', "' OR ''='xxxxxxxx")).length).toBeGreaterThan(20);
      const tool = await asAdmin('POST', '/api/v1/tools', { name: "'; DROP TABLE tools;--", serial_number: "x' OR '1'='1", class_key: 'pliers' });
      expect(tool.json().name).toBe("'; DROP TABLE tools;--");
      const kit = await asAdmin('POST', '/api/v1/toolkits', { name: "'); DELETE FROM toolkits;--", items: [{ tool_id: tool.json().id, quantity: 1 }] });
      expect(kit.statusCode).toBe(201);
      const alias = await asAdmin('PUT', `/api/v1/model/aliases/${encodeURIComponent("x'; DROP TABLE model_class_aliases;--")}`, { class_key: 'pliers' });
      expect(alias.json().model_class_name).toBe("x'; DROP TABLE model_class_aliases;--");

      expect(await tableCount()).toBe(tablesBefore);
      expect((await asAdmin('GET', '/api/v1/users')).json().total).toBeGreaterThan(3);
      expect((await asAdmin('GET', '/api/v1/tools')).json().total).toBeGreaterThanOrEqual(11);
      expect((await t.deps.db.select().from(toolkitsTable)).length).toBeGreaterThanOrEqual(2);
      expect((await asAdmin('GET', '/api/v1/model/aliases')).json().length).toBeGreaterThan(22);
    });
  });
});

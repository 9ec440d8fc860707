import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { operations, toolkits } from '../../src/db/schema/index.js';
import { REFERENCE_KIT_NAME } from '../../src/db/seed.js';
import { buildTestApp, type TestApp } from '../helpers/app.js';
import { createScriptedDetector, FULL_KIT, solidJpeg } from '../helpers/fake-detector.js';
import { multipartBody } from '../helpers/multipart.js';
import { createUser } from '../helpers/users.js';
import { bearer, expectProblem, userToken } from './admin-helpers.js';

describe('toolkits API', () => {
  let t: TestApp;
  let adminToken: string;
  let engineer: { id: number; token: string; employee_number: string };
  let referenceKitId: number;
  const asAdmin = (method: string, url: string, payload?: object) =>
    t.app.inject({ method: method as 'GET', url, headers: bearer(adminToken), ...(payload ? { payload } : {}) });
  const asEngineer = (url: string) => t.app.inject({ url, headers: bearer(engineer.token) });

  /** What the lead's checkout does to a kit, done directly so these tests need no model. */
  async function hold(toolkitId: number, userId: number, since: Date) {
    const [op] = await t.deps.db
      .insert(operations)
      .values({
        userId,
        actedById: userId,
        toolkitId,
        operationType: 'checkout',
        status: 'success',
        resultJson: {},
        modelSha256: 'test',
        originalImageKey: 'o.jpg',
        annotatedImageKey: 'a.jpg',
      })
      .returning();
    await t.deps.db.update(toolkits).set({ holderId: userId, heldSince: since, checkoutOperationId: op!.id }).where(eq(toolkits.id, toolkitId));
    return op!.id;
  }

  beforeAll(async () => {
    t = await buildTestApp();
    adminToken = await t.login();
    engineer = await userToken(t, adminToken, 'engineer');
    const list = (await asAdmin('GET', '/api/v1/toolkits')).json();
    referenceKitId = list.items.find((k: { name: string }) => k.name === REFERENCE_KIT_NAME).id;
  });
  afterAll(() => t.close());

  it('any logged-in user sees the kits, their items and their state', async () => {
    const res = await asEngineer('/api/v1/toolkits');
    expect(res.statusCode).toBe(200);
    const kit = res.json().items.find((k: { id: number }) => k.id === referenceKitId);
    expect(kit).toMatchObject({ status: 'available', holder: null, held_since: null, flagged: false, flagged_operation_id: null, is_active: true });
    expect(kit.items).toHaveLength(11);
    expect(kit.items).toContainEqual(expect.objectContaining({ class_key: 'side_cutters', name: 'Бокорезы', quantity: 1 }));

    const one = await asEngineer(`/api/v1/toolkits/${referenceKitId}`);
    expect(one.json()).toEqual(kit);
    expectProblem(await asEngineer('/api/v1/toolkits/999999'), 404, 'toolkit.not_found');
  });

  it('creates a kit with items; names are unique; items are checked', async () => {
    const created = await asAdmin('POST', '/api/v1/toolkits', {
      name: 'Набор №2',
      description: 'Отвертки',
      items: [
        { tool_id: 1, quantity: 2 },
        { tool_id: 2, quantity: 1 },
      ],
    });
    expect(created.statusCode).toBe(201);
    expect(created.json()).toMatchObject({
      name: 'Набор №2',
      description: 'Отвертки',
      status: 'available',
      items: [
        { tool_id: 1, quantity: 2, class_key: 'screwdriver_flat' },
        { tool_id: 2, quantity: 1, class_key: 'screwdriver_phillips' },
      ],
    });
    expectProblem(await asAdmin('POST', '/api/v1/toolkits', { name: 'Набор №2', items: [{ tool_id: 1, quantity: 1 }] }), 409, 'toolkit.name_taken');
    expectProblem(await asAdmin('POST', '/api/v1/toolkits', { name: 'Набор №3', items: [{ tool_id: 999, quantity: 1 }] }), 400, 'toolkit.unknown_tool');
    expectProblem(
      await asAdmin('POST', '/api/v1/toolkits', { name: 'Набор №3', items: [{ tool_id: 1, quantity: 1 }, { tool_id: 1, quantity: 2 }] }),
      400,
      'toolkit.duplicate_tool',
    );
    expectProblem(await asAdmin('POST', '/api/v1/toolkits', { name: 'Набор №3', items: [{ tool_id: 1, quantity: 0 }] }), 422, 'request.validation_failed');
    expectProblem(await asAdmin('POST', '/api/v1/toolkits', { name: 'Набор №3', items: [] }), 422, 'request.validation_failed');
    // Nothing half-written by the refused requests.
    expect((await asAdmin('GET', '/api/v1/toolkits')).json().items.map((k: { name: string }) => k.name)).not.toContain('Набор №3');
  });

  it('shows who holds a kit, since when, and filters by status', async () => {
    const kit = (await asAdmin('POST', '/api/v1/toolkits', { name: 'Набор выданный', items: [{ tool_id: 3, quantity: 1 }] })).json();
    const since = new Date('2026-03-01T08:30:00.000Z');
    const checkoutId = await hold(kit.id, engineer.id, since);

    const state = (await asEngineer(`/api/v1/toolkits/${kit.id}`)).json();
    expect(state).toMatchObject({
      status: 'held',
      holder: { id: engineer.id, employee_number: engineer.employee_number, full_name: expect.any(String) },
      held_since: since.toISOString(),
      checkout_operation_id: checkoutId,
      flagged: false,
    });

    const held = (await asEngineer('/api/v1/toolkits?status=held')).json();
    expect(held.items.map((k: { id: number }) => k.id)).toEqual([kit.id]);
    expect(held.total).toBe(1);
    const available = (await asEngineer('/api/v1/toolkits?status=available')).json();
    expect(available.items.map((k: { id: number }) => k.id)).not.toContain(kit.id);
    expect(available.items.map((k: { id: number }) => k.id)).toContain(referenceKitId);

    // A checkin with a discrepancy: still held by the engineer, and flagged.
    await t.deps.db.update(toolkits).set({ flaggedOperationId: checkoutId }).where(eq(toolkits.id, kit.id));
    const flagged = (await asEngineer('/api/v1/toolkits?status=flagged')).json();
    expect(flagged.items).toEqual([expect.objectContaining({ id: kit.id, status: 'held', flagged: true, flagged_operation_id: checkoutId })]);
    expect((await asEngineer('/api/v1/toolkits?status=held')).json().items.map((k: { id: number }) => k.id)).toContain(kit.id);

    // Its contents cannot change while it is out, nor can it be deleted.
    expectProblem(await asAdmin('PUT', `/api/v1/toolkits/${kit.id}/items`, { items: [{ tool_id: 4, quantity: 1 }] }), 409, 'toolkit.held');
    expectProblem(await asAdmin('DELETE', `/api/v1/toolkits/${kit.id}`), 409, 'toolkit.has_history');
    expect((await asEngineer(`/api/v1/toolkits/${kit.id}`)).json().items).toEqual([expect.objectContaining({ tool_id: 3 })]);
  });

  it('replaces the items of an available kit', async () => {
    const kit = (await asAdmin('POST', '/api/v1/toolkits', { name: 'Набор для замены', items: [{ tool_id: 5, quantity: 1 }] })).json();
    const res = await asAdmin('PUT', `/api/v1/toolkits/${kit.id}/items`, {
      items: [
        { tool_id: 6, quantity: 3 },
        { tool_id: 7, quantity: 1 },
      ],
    });
    expect(res.statusCode).toBe(200);
    expect(res.json().items.map((i: { tool_id: number; quantity: number }) => [i.tool_id, i.quantity])).toEqual([
      [6, 3],
      [7, 1],
    ]);
    expectProblem(await asAdmin('PUT', `/api/v1/toolkits/${kit.id}/items`, { items: [{ tool_id: 12345, quantity: 1 }] }), 400, 'toolkit.unknown_tool');
    expect((await asAdmin('GET', `/api/v1/toolkits/${kit.id}`)).json().items).toHaveLength(2);
    expectProblem(await asAdmin('PUT', '/api/v1/toolkits/999999/items', { items: [{ tool_id: 1, quantity: 1 }] }), 404, 'toolkit.not_found');
  });

  it('refuses deactivated tools in a kit', async () => {
    const tool = (await asAdmin('POST', '/api/v1/tools', { name: 'Разводной ключ', class_key: 'adjustable_wrench', is_active: false })).json();
    expectProblem(await asAdmin('POST', '/api/v1/toolkits', { name: 'Набор с неактивным', items: [{ tool_id: tool.id, quantity: 1 }] }), 400, 'toolkit.inactive_tool');
  });

  it('edits, deactivates and filters by active; deletes a kit without history', async () => {
    const kit = (await asAdmin('POST', '/api/v1/toolkits', { name: 'Набор временный', items: [{ tool_id: 8, quantity: 1 }] })).json();
    const edited = await asAdmin('PATCH', `/api/v1/toolkits/${kit.id}`, { name: 'Набор временный (старый)', description: null, is_active: false });
    expect(edited.json()).toMatchObject({ name: 'Набор временный (старый)', description: null, is_active: false });
    expect((await asAdmin('GET', '/api/v1/toolkits?active=false')).json().items.map((k: { id: number }) => k.id)).toEqual([kit.id]);
    expectProblem(await asAdmin('PATCH', `/api/v1/toolkits/${kit.id}`, { name: REFERENCE_KIT_NAME }), 409, 'toolkit.name_taken');
    expectProblem(await asAdmin('PATCH', '/api/v1/toolkits/999999', { description: 'x' }), 404, 'toolkit.not_found');

    expect((await asAdmin('DELETE', `/api/v1/toolkits/${kit.id}`)).json()).toEqual({ ok: true });
    expectProblem(await asAdmin('GET', `/api/v1/toolkits/${kit.id}`), 404);
    expectProblem(await asAdmin('DELETE', `/api/v1/toolkits/${kit.id}`), 404, 'toolkit.not_found');
  });

  it('a kit with operations cannot be deleted even when back in the tool room (409 toolkit.has_history)', async () => {
    const kit = (await asAdmin('POST', '/api/v1/toolkits', { name: 'Набор возвращённый', items: [{ tool_id: 9, quantity: 1 }] })).json();
    await hold(kit.id, engineer.id, new Date());
    await t.deps.db.update(toolkits).set({ holderId: null, heldSince: null, checkoutOperationId: null }).where(eq(toolkits.id, kit.id));
    const res = await asAdmin('DELETE', `/api/v1/toolkits/${kit.id}`);
    expectProblem(res, 409, 'toolkit.has_history');
    expect(res.json().detail).toMatch(/deactivate/);
    expect((await asAdmin('PATCH', `/api/v1/toolkits/${kit.id}`, { is_active: false })).statusCode).toBe(200);
  });

  it('pages with skip and limit', async () => {
    const all = (await asEngineer('/api/v1/toolkits?limit=500')).json();
    const page = (await asEngineer('/api/v1/toolkits?skip=1&limit=2')).json();
    expect(page).toMatchObject({ skip: 1, limit: 2, total: all.total });
    expect(page.items.map((k: { id: number }) => k.id)).toEqual(all.items.slice(1, 3).map((k: { id: number }) => k.id));
    expectProblem(await asEngineer('/api/v1/toolkits?limit=0'), 422, 'request.validation_failed');
    expectProblem(await asEngineer('/api/v1/toolkits?limit=100000'), 422, 'request.validation_failed');
  });
});

describe('overdue kits and the holder filter', () => {
  const HOUR = 3600 * 1000;
  let t: TestApp;
  let admin: Record<string, string>;
  let first: Awaited<ReturnType<typeof createUser>>;
  let second: Awaited<ReturnType<typeof createUser>>;
  let photo: Buffer;
  // The service's clock, moved by the tests: checkouts record it as held_since, overdue is decided against it.
  let now = Date.parse('2026-04-01T06:00:00.000Z');

  beforeAll(async () => {
    photo = await solidJpeg([120, 60, 30]);
    // Every kit here holds tool 1, the flat screwdriver, and every photo shows exactly it.
    const detector = createScriptedDetector(() => FULL_KIT.filter((d) => d.className === 'screwdriver_flat'));
    t = await buildTestApp({
      // Two hours allowed; access tokens outlive the clock's moves.
      env: { KIT_OVERDUE_HOURS: '2', ACCESS_TOKEN_TTL: String(7 * 24 * 3600) },
      overrides: { detector, clock: { now: () => new Date(now) } },
    });
    admin = { authorization: `Bearer ${await t.login()}` };
    first = await createUser(t, await t.login(), 'engineer', 'overdue-first');
    second = await createUser(t, await t.login(), 'engineer', 'overdue-second');
  });
  afterAll(() => t?.close());

  let kits = 0;
  async function newKit(): Promise<number> {
    kits++;
    const res = await t.app.inject({
      method: 'POST',
      url: '/api/v1/toolkits',
      headers: admin,
      payload: { name: `Набор на срок ${kits}`, items: [{ tool_id: 1, quantity: 1 }] },
    });
    expect(res.statusCode, res.body).toBe(201);
    return res.json().id;
  }

  /** A real checkout through the API, recognised by the scripted detector. */
  async function checkout(auth: Record<string, string>, toolkitId: number) {
    const body = await multipartBody({ toolkit_id: toolkitId, operation_type: 'checkout' }, [{ field: 'image', data: photo }]);
    const res = await t.app.inject({ method: 'POST', url: '/api/v1/operations', headers: { ...auth, ...body.headers }, payload: body.payload });
    expect(res.statusCode, res.body).toBe(201);
  }
  const kit = async (id: number) => (await t.app.inject({ url: `/api/v1/toolkits/${id}`, headers: admin })).json();
  const ids = async (query: string, auth = admin) => {
    const res = await t.app.inject({ url: `/api/v1/toolkits?${query}`, headers: auth });
    expect(res.statusCode, res.body).toBe(200);
    return { ids: res.json().items.map((k: { id: number }) => k.id) as number[], total: res.json().total as number };
  };

  it('a kit is overdue once held longer than KIT_OVERDUE_HOURS, by the service clock; status=overdue lists only those', async () => {
    const early = await newKit();
    const late = await newKit();
    const idle = await newKit();
    const checkedOutAt = now;
    await checkout(first.auth, early);
    now += HOUR;
    await checkout(second.auth, late);

    const held = await kit(early);
    expect(held).toMatchObject({
      status: 'held',
      held_since: new Date(checkedOutAt).toISOString(),
      overdue: false,
      overdue_since: new Date(checkedOutAt + 2 * HOUR).toISOString(),
    });
    expect(await kit(idle)).toMatchObject({ status: 'available', overdue: false, overdue_since: null });
    expect(await ids('status=overdue')).toEqual({ ids: [], total: 0 });

    // Exactly two hours: not yet longer than allowed.
    now = checkedOutAt + 2 * HOUR;
    expect((await kit(early)).overdue).toBe(false);
    expect((await ids('status=overdue')).ids).toEqual([]);

    now = checkedOutAt + 2 * HOUR + 1000;
    expect((await kit(early)).overdue).toBe(true);
    expect((await kit(late)).overdue).toBe(false);
    expect(await ids('status=overdue')).toEqual({ ids: [early], total: 1 });
    // The list says the same per kit, and anyone logged in may ask.
    const list = (await t.app.inject({ url: '/api/v1/toolkits?limit=500', headers: first.auth })).json();
    const overdueInList = list.items.filter((k: { overdue: boolean }) => k.overdue).map((k: { id: number }) => k.id);
    expect(overdueInList).toEqual([early]);

    now = checkedOutAt + 3 * HOUR + 1000;
    expect(await ids('status=overdue')).toEqual({ ids: [early, late], total: 2 });
    expect(await ids('status=overdue&skip=1&limit=1')).toEqual({ ids: [late], total: 2 });
    expect((await kit(idle)).overdue).toBe(false);

    // Returned: no longer held, so no longer overdue.
    const body = await multipartBody({ toolkit_id: early, operation_type: 'checkin' }, [{ field: 'image', data: photo }]);
    const back = await t.app.inject({ method: 'POST', url: '/api/v1/operations', headers: { ...first.auth, ...body.headers }, payload: body.payload });
    expect(back.statusCode, back.body).toBe(201);
    expect(back.json().status).toBe('success');
    expect(await kit(early)).toMatchObject({ status: 'available', held_since: null, overdue: false, overdue_since: null });
    expect((await ids('status=overdue')).ids).toEqual([late]);
  });

  it('a held_since written long ago makes a kit overdue at once', async () => {
    const id = await newKit();
    await checkout(first.auth, id);
    const since = new Date(now - 30 * HOUR);
    await t.deps.db.update(toolkits).set({ heldSince: since }).where(eq(toolkits.id, id));
    expect(await kit(id)).toMatchObject({ overdue: true, held_since: since.toISOString(), overdue_since: new Date(since.getTime() + 2 * HOUR).toISOString() });
    expect((await ids('status=overdue')).ids).toContain(id);
    expect((await ids('status=overdue&active=false')).ids).not.toContain(id);
  });

  it('holder_id lists only the kits that user holds, and combines with the other filters', async () => {
    const mine = await newKit();
    const theirs = await newKit();
    await checkout(first.auth, mine);
    await checkout(second.auth, theirs);

    const byFirst = await ids(`holder_id=${first.id}&limit=500`);
    expect(byFirst.ids).toContain(mine);
    expect(byFirst.ids).not.toContain(theirs);
    expect(byFirst.total).toBe(byFirst.ids.length);
    const list = (await t.app.inject({ url: `/api/v1/toolkits?holder_id=${first.id}&limit=500`, headers: admin })).json();
    expect(list.items.every((k: { holder: { id: number } | null }) => k.holder?.id === first.id)).toBe(true);

    const bySecond = await ids(`holder_id=${second.id}&status=held&limit=500`, second.auth);
    expect(bySecond.ids).toContain(theirs);
    expect(bySecond.ids).not.toContain(mine);
    expect(await ids(`holder_id=${second.id}&status=available`)).toEqual({ ids: [], total: 0 });
    // Neither kit has been held for two hours yet.
    expect((await ids(`holder_id=${first.id}&status=overdue`)).ids).not.toContain(mine);
    now += 2 * HOUR + 1000;
    expect((await ids(`holder_id=${first.id}&status=overdue`)).ids).toContain(mine);
    expect((await ids(`holder_id=${first.id}&status=overdue`)).ids).not.toContain(theirs);

    // An admin holds nothing; a user who does not exist holds nothing either.
    expect(await ids('holder_id=1')).toEqual({ ids: [], total: 0 });
    expect(await ids('holder_id=2147483647')).toEqual({ ids: [], total: 0 });
    for (const bad of ['0', '-3', '2147483648', 'abc', '1.5']) {
      expectProblem(await t.app.inject({ url: `/api/v1/toolkits?holder_id=${bad}`, headers: admin }), 422, 'request.validation_failed');
    }
    expectProblem(await t.app.inject({ url: '/api/v1/toolkits?status=late', headers: admin }), 422, 'request.validation_failed');
  });
});

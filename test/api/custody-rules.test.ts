/**
 * Who answers for which tool between checkout and checkin, in the cases the happy path
 * does not reach: a kit held by a deactivated engineer, a tool that went out with the kit
 * although the kit does not list it, a checkout whose uncertain tools a storekeeper
 * confirmed or corrected, and a review resolved after the kit went out again.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTestApp, type TestApp } from '../helpers/app.js';
import { BACKENDS } from '../helpers/databases.js';
import { createScriptedDetector, FULL_KIT, kitWithout, solidJpeg, type ScriptedDetection } from '../helpers/fake-detector.js';
import { multipartBody } from '../helpers/multipart.js';
import { createUser } from '../helpers/users.js';

describe.each(BACKENDS)('custody rules on %s', (backend) => {
  let t: TestApp;
  let admin: Record<string, string>;
  let storekeeper: Awaited<ReturnType<typeof createUser>>;
  let toolIds: number[];
  const scenes = new Map<string, ScriptedDetection[]>();
  const photos: Record<string, Buffer> = {};
  let nextColour = 0;

  /** A photo the scripted detector answers with these detections. */
  async function photoOf(detections: ScriptedDetection[]): Promise<Buffer> {
    nextColour++;
    const jpeg = await solidJpeg([nextColour * 7 % 256, nextColour * 13 % 256, nextColour * 29 % 256]);
    scenes.set(jpeg.toString('base64'), detections);
    return jpeg;
  }

  beforeAll(async () => {
    const detector = createScriptedDetector((image) => scenes.get(image.toString('base64')) ?? []);
    t = await buildTestApp({ backend, overrides: { detector } });
    admin = { authorization: `Bearer ${await t.login()}` };
    storekeeper = await createUser(t, await t.login(), 'storekeeper', `cr-store-${backend}`);
    const tools = await t.app.inject({ url: '/api/v1/tools?limit=100', headers: admin });
    toolIds = (tools.json().items ?? tools.json()).map((tool: { id: number }) => tool.id);
    expect(toolIds).toHaveLength(11);
    photos.full = await photoOf(FULL_KIT);
    photos.withoutPliers = await photoOf(kitWithout('pliers'));
    photos.twoWrenches = await photoOf([...FULL_KIT, { className: 'adjustable_wrench', confidence: 0.88 }]);
    photos.unsurePliers = await photoOf([...kitWithout('pliers'), { className: 'pliers', confidence: 0.35 }]);
  });
  afterAll(() => t?.close());

  let kitCount = 0;
  async function newKit(): Promise<number> {
    kitCount++;
    const res = await t.app.inject({
      method: 'POST',
      url: '/api/v1/toolkits',
      headers: admin,
      payload: { name: `Комплект ${backend} ${kitCount}`, items: toolIds.map((id) => ({ tool_id: id, quantity: 1 })) },
    });
    expect(res.statusCode, res.body).toBe(201);
    return res.json().id;
  }

  const submit = async (auth: Record<string, string>, fields: Record<string, string | number | undefined>, image: Buffer) => {
    const body = await multipartBody(fields, [{ field: 'image', data: image }]);
    return t.app.inject({ method: 'POST', url: '/api/v1/operations', headers: { ...auth, ...body.headers }, payload: body.payload });
  };
  const resolve = (id: number, payload: Record<string, unknown>) =>
    t.app.inject({ method: 'POST', url: `/api/v1/operations/${id}/resolve`, headers: storekeeper.auth, payload });
  const holderOf = async (kitId: number) => (await t.app.inject({ url: `/api/v1/toolkits/${kitId}`, headers: admin })).json().holder;

  it('a kit held by an engineer who was deactivated meanwhile can still be received', async () => {
    const kitId = await newKit();
    const engineer = await createUser(t, await t.login(), 'engineer', `cr-leaver-${backend}`);
    expect((await submit(engineer.auth, { toolkit_id: kitId, operation_type: 'checkout' }, photos.full!)).statusCode).toBe(201);
    const off = await t.app.inject({ method: 'PATCH', url: `/api/v1/users/${engineer.id}`, headers: admin, payload: { is_active: false } });
    expect(off.statusCode, off.body).toBe(200);

    const back = await submit(storekeeper.auth, { toolkit_id: kitId, operation_type: 'checkin' }, photos.full!);
    expect(back.statusCode, back.body).toBe(201);
    expect(back.json()).toMatchObject({ status: 'success', user_id: engineer.id, acted_by_id: storekeeper.id });
    expect(await holderOf(kitId)).toBeNull();
    // Taking a kit is still refused to a deactivated user.
    const issue = await submit(storekeeper.auth, { toolkit_id: kitId, operation_type: 'checkout', engineer_id: engineer.id }, photos.full!);
    expect(issue.statusCode).toBe(409);
    expect(issue.json().code).toBe('user.inactive');
  });

  it('a tool seen at checkout and not at checkin is a discrepancy even when the kit list is complete', async () => {
    const kitId = await newKit();
    const engineer = await createUser(t, await t.login(), 'engineer', `cr-extra-${backend}`);
    const out = await submit(engineer.auth, { toolkit_id: kitId, operation_type: 'checkout' }, photos.twoWrenches!);
    expect(out.statusCode, out.body).toBe(201);
    expect(out.json().result_json.extra_tools).toMatchObject([{ class_key: 'adjustable_wrench', count: 1 }]);

    const back = await submit(engineer.auth, { toolkit_id: kitId, operation_type: 'checkin' }, photos.full!);
    expect(back.statusCode, back.body).toBe(201);
    // The kit's own list is complete (match 100 %, nothing missing), but a wrench is unaccounted for.
    expect(back.json().result_json).toMatchObject({ match_percentage: 100, missing_tools: [], extra_tools: [] });
    expect(back.json().result_json.lost_since_checkout).toEqual([{ class_key: 'adjustable_wrench', tool_name: 'Разводной ключ', count: 1 }]);
    expect(back.json().status).toBe('discrepancy');
    expect(await holderOf(kitId)).toMatchObject({ id: engineer.id });
    const reviews = (await t.app.inject({ url: '/api/v1/reviews?limit=100', headers: storekeeper.auth })).json();
    expect(reviews.map((r: { id: number }) => r.id)).toContain(back.json().id);
  });

  it('tools a storekeeper confirmed at checkout are the engineer’s to bring back', async () => {
    const kitId = await newKit();
    const engineer = await createUser(t, await t.login(), 'engineer', `cr-confirm-${backend}`);
    const out = await submit(engineer.auth, { toolkit_id: kitId, operation_type: 'checkout' }, photos.unsurePliers!);
    expect(out.json()).toMatchObject({ status: 'manual_check' });
    expect(out.json().result_json.counts.pliers).toBeUndefined();
    expect((await resolve(out.json().id, { decision: 'confirmed', note: 'Пассатижи на месте' })).statusCode).toBe(200);

    const back = await submit(engineer.auth, { toolkit_id: kitId, operation_type: 'checkin' }, photos.withoutPliers!);
    expect(back.json().status).toBe('discrepancy');
    expect(back.json().result_json.lost_since_checkout).toEqual([{ class_key: 'pliers', tool_name: 'Пассатижи', count: 1 }]);
  });

  it('counts a storekeeper corrected at checkout are what the engineer answers for; unconfirmed ones are not', async () => {
    const corrected = await newKit();
    const engineer = await createUser(t, await t.login(), 'engineer', `cr-correct-${backend}`);
    const out = await submit(engineer.auth, { toolkit_id: corrected, operation_type: 'checkout' }, photos.withoutPliers!);
    expect(out.json().status).toBe('discrepancy');
    const fix = await resolve(out.json().id, { decision: 'confirmed', note: 'Пассатижи лежали под тряпкой', corrected_counts: { pliers: 1 } });
    expect(fix.statusCode, fix.body).toBe(200);
    const back = await submit(engineer.auth, { toolkit_id: corrected, operation_type: 'checkin' }, photos.withoutPliers!);
    expect(back.json().result_json.lost_since_checkout).toEqual([{ class_key: 'pliers', tool_name: 'Пассатижи', count: 1 }]);

    // Missing at checkout and never confirmed: still missing at checkin, but not blamed on the engineer.
    const plain = await newKit();
    const out2 = await submit(engineer.auth, { toolkit_id: plain, operation_type: 'checkout' }, photos.withoutPliers!);
    expect(out2.json().result_json.missing_at_checkout).toMatchObject([{ class_key: 'pliers', count: 1 }]);
    const back2 = await submit(engineer.auth, { toolkit_id: plain, operation_type: 'checkin' }, photos.withoutPliers!);
    expect(back2.json().status).toBe('discrepancy');
    expect(back2.json().result_json.lost_since_checkout).toEqual([]);
  });

  it('a tool cannot change class while a kit holding it is out', async () => {
    const kitId = await newKit();
    const engineer = await createUser(t, await t.login(), 'engineer', `cr-class-${backend}`);
    expect((await submit(engineer.auth, { toolkit_id: kitId, operation_type: 'checkout' }, photos.full!)).statusCode).toBe(201);
    const toolId = toolIds[0]!;
    const before = (await t.app.inject({ url: `/api/v1/tools/${toolId}`, headers: admin })).json();
    const other = before.class_key === 'pliers' ? 'side_cutters' : 'pliers';

    const refused = await t.app.inject({ method: 'PATCH', url: `/api/v1/tools/${toolId}`, headers: admin, payload: { class_key: other } });
    expect(refused.statusCode, refused.body).toBe(409);
    expect(refused.json()).toMatchObject({ code: 'tool.in_held_kit' });
    expect(refused.json().toolkit_ids).toContain(kitId);
    // Other fields may still change, and the class is untouched.
    const renamed = await t.app.inject({ method: 'PATCH', url: `/api/v1/tools/${toolId}`, headers: admin, payload: { category: 'Ручной инструмент' } });
    expect(renamed.statusCode, renamed.body).toBe(200);
    expect(renamed.json().class_key).toBe(before.class_key);
  });

  it('a storekeeper who took a kit does not resolve their own discrepancy', async () => {
    const kitId = await newKit();
    const other = await createUser(t, await t.login(), 'storekeeper', `cr-store2-${backend}`);
    expect((await submit(storekeeper.auth, { toolkit_id: kitId, operation_type: 'checkout' }, photos.full!)).statusCode).toBe(201);
    const short = await submit(storekeeper.auth, { toolkit_id: kitId, operation_type: 'checkin' }, photos.withoutPliers!);
    expect(short.json()).toMatchObject({ status: 'discrepancy', user_id: storekeeper.id });

    const own = await resolve(short.json().id, { decision: 'confirmed', note: 'Нашлись' });
    expect(own.statusCode, own.body).toBe(403);
    expect(own.json().code).toBe('operation.own_review');
    expect(await holderOf(kitId)).toMatchObject({ id: storekeeper.id });
    const byOther = await t.app.inject({
      method: 'POST',
      url: `/api/v1/operations/${short.json().id}/resolve`,
      headers: other.auth,
      payload: { decision: 'marked_missing', note: 'Пассатижи не найдены' },
    });
    expect(byOther.statusCode, byOther.body).toBe(200);
    expect(await holderOf(kitId)).toBeNull();
  });

  it('resolving an old checkin does not take the kit from its next holder', async () => {
    const kitId = await newKit();
    const engineer = await createUser(t, await t.login(), 'engineer', `cr-again-${backend}`);
    expect((await submit(engineer.auth, { toolkit_id: kitId, operation_type: 'checkout' }, photos.full!)).statusCode).toBe(201);
    const short = await submit(engineer.auth, { toolkit_id: kitId, operation_type: 'checkin' }, photos.withoutPliers!);
    expect(short.json().status).toBe('discrepancy');
    // The pliers turn up: the kit is returned complete, then issued again.
    expect((await submit(engineer.auth, { toolkit_id: kitId, operation_type: 'checkin' }, photos.full!)).json().status).toBe('success');
    expect((await submit(engineer.auth, { toolkit_id: kitId, operation_type: 'checkout' }, photos.full!)).statusCode).toBe(201);

    const late = await resolve(short.json().id, { decision: 'confirmed', note: 'Нашлись' });
    expect(late.statusCode, late.body).toBe(200);
    expect(late.json().audit.after.kit.holder_id).toBe(engineer.id);
    expect(await holderOf(kitId)).toMatchObject({ id: engineer.id });
  });
});

/**
 * The tool-room workflow through the API with a scripted detector: checkout,
 * checkin, review, history, media access, and all-or-nothing recording.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTestApp, type TestApp } from '../helpers/app.js';
import { unsigned } from '../helpers/signed-urls.js';
import { BACKENDS } from '../helpers/databases.js';
import { createScriptedDetector, FULL_KIT, kitWithout, solidJpeg, type ScriptedDetection } from '../helpers/fake-detector.js';
import { multipartBody } from '../helpers/multipart.js';
import { createUser } from '../helpers/users.js';

function filesUnder(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => path.join(e.parentPath, e.name));
}

describe.each(BACKENDS)('operations on %s', (backend) => {
  let t: TestApp;
  let admin: Record<string, string>;
  let engineer: Awaited<ReturnType<typeof createUser>>;
  let other: Awaited<ReturnType<typeof createUser>>;
  let storekeeper: Awaited<ReturnType<typeof createUser>>;
  let kitId: number;
  const scenes = new Map<string, ScriptedDetection[]>();
  const photos: Record<string, Buffer> = {};

  beforeAll(async () => {
    photos.full = await solidJpeg([200, 10, 10]);
    photos.noCutters = await solidJpeg([10, 200, 10]);
    photos.unsureCutters = await solidJpeg([10, 10, 200]);
    scenes.set(photos.full.toString('base64'), FULL_KIT);
    scenes.set(photos.noCutters.toString('base64'), kitWithout('side_cutters'));
    scenes.set(photos.unsureCutters.toString('base64'), [...kitWithout('side_cutters'), { className: 'side_cutters', confidence: 0.35 }]);
    const detector = createScriptedDetector((image) => scenes.get(image.toString('base64')) ?? []);
    t = await buildTestApp({ backend, overrides: { detector } });
    admin = { authorization: `Bearer ${await t.login()}` };
    engineer = await createUser(t, (await t.login()), 'engineer', `eng-${backend}`);
    other = await createUser(t, (await t.login()), 'engineer', `eng2-${backend}`);
    storekeeper = await createUser(t, (await t.login()), 'storekeeper', `store-${backend}`);
    const kits = await t.app.inject({ url: '/api/v1/toolkits', headers: admin });
    kitId = (kits.json().items ?? kits.json())[0].id;
  });
  afterAll(() => t?.close());

  const submit = async (auth: Record<string, string>, fields: Record<string, string | number | undefined>, image: Buffer) => {
    const body = await multipartBody(fields, [{ field: 'image', data: image }]);
    return t.app.inject({ method: 'POST', url: '/api/v1/operations', headers: { ...auth, ...body.headers }, payload: body.payload });
  };

  it('checks a full kit out to the engineer and refuses a second checkout', async () => {
    const res = await submit(engineer.auth, { toolkit_id: kitId, operation_type: 'checkout' }, photos.full!);
    expect(res.statusCode, res.body).toBe(201);
    const op = res.json();
    expect(op).toMatchObject({ user_id: engineer.id, acted_by_id: engineer.id, toolkit_id: kitId, operation_type: 'checkout', status: 'success' });
    expect(op.result_json.match_percentage).toBe(100);
    expect(op.result_json.missing_tools).toEqual([]);
    expect(op.result_json.model.sha256).toBe('f'.repeat(64));

    const kit = await t.app.inject({ url: `/api/v1/toolkits/${kitId}`, headers: admin });
    expect(kit.json().holder).toMatchObject({ id: engineer.id });

    const again = await submit(other.auth, { toolkit_id: kitId, operation_type: 'checkout' }, photos.full!);
    expect(again.statusCode).toBe(409);
    expect(again.json().code).toBe('toolkit.already_checked_out');
  });

  it('refuses a checkin by an engineer who does not hold the kit', async () => {
    const res = await submit(other.auth, { toolkit_id: kitId, operation_type: 'checkin' }, photos.full!);
    expect(res.statusCode).toBe(409);
  });

  it('records a checkin without the side cutters as a discrepancy; the kit stays with the engineer', async () => {
    const res = await submit(engineer.auth, { toolkit_id: kitId, operation_type: 'checkin' }, photos.noCutters!);
    expect(res.statusCode, res.body).toBe(201);
    const op = res.json();
    expect(op.status).toBe('discrepancy');
    expect(op.result_json.missing_tools.map((m: { class_key: string }) => m.class_key)).toEqual(['side_cutters']);
    expect(op.result_json.lost_since_checkout).toEqual([{ class_key: 'side_cutters', tool_name: 'Бокорезы', count: 1 }]);
    const kit = await t.app.inject({ url: `/api/v1/toolkits/${kitId}`, headers: admin });
    expect(kit.json().holder).toMatchObject({ id: engineer.id });
    expect(kit.json().flagged_operation_id).toBe(op.id);
  });

  it('lets the engineer read their evidence, not another engineer', async () => {
    const [latest] = (await t.app.inject({ url: '/api/v1/history?limit=1', headers: engineer.auth })).json();
    const own = await t.app.inject({ url: latest.annotated_image_url, headers: engineer.auth });
    expect(own.statusCode).toBe(200);
    expect(own.headers['content-type']).toBe('image/jpeg');
    expect(own.rawPayload.subarray(0, 2)).toEqual(Buffer.from([0xff, 0xd8]));
    const original = await t.app.inject({ url: `${unsigned(latest.image_url)}?access_token=${engineer.token}` });
    expect(original.statusCode).toBe(200);
    expect(original.rawPayload.equals(photos.noCutters!)).toBe(true);
    expect((await t.app.inject({ url: unsigned(latest.annotated_image_url), headers: other.auth })).statusCode).toBe(403);
    expect((await t.app.inject({ url: unsigned(latest.annotated_image_url), headers: storekeeper.auth })).statusCode).toBe(200);
    expect((await t.app.inject({ url: unsigned(latest.annotated_image_url) })).statusCode).toBe(401);
  });

  it('queues the discrepancy for review; a storekeeper resolves it with an audit row and the kit returns', async () => {
    const queue = await t.app.inject({ url: '/api/v1/reviews', headers: storekeeper.auth });
    expect(queue.statusCode).toBe(200);
    const [pending] = queue.json();
    expect(pending).toMatchObject({ status: 'discrepancy', operation_type: 'checkin', review: null });
    expect((await t.app.inject({ url: '/api/v1/reviews', headers: engineer.auth })).statusCode).toBe(403);

    const res = await t.app.inject({
      method: 'POST',
      url: `/api/v1/operations/${pending.id}/resolve`,
      headers: storekeeper.auth,
      payload: { decision: 'marked_missing', note: 'Бокорезы не найдены, составлен акт', corrected_counts: { side_cutters: 0 } },
    });
    expect(res.statusCode, res.body).toBe(200);
    const { operation, audit } = res.json();
    expect(operation.review).toMatchObject({ decision: 'marked_missing', resolved_by_id: storekeeper.id });
    expect(audit).toMatchObject({ reviewer_id: storekeeper.id, decision: 'marked_missing', before: { status: 'discrepancy', resolution: null } });
    expect(audit.after.kit.holder_id).toBeNull();
    expect(audit.after.corrected_comparison.missing[0].class_key).toBe('side_cutters');

    const twice = await t.app.inject({ method: 'POST', url: `/api/v1/operations/${pending.id}/resolve`, headers: storekeeper.auth, payload: { decision: 'confirmed' } });
    expect(twice.statusCode).toBe(409);
    const kit = await t.app.inject({ url: `/api/v1/toolkits/${kitId}`, headers: admin });
    expect(kit.json().holder).toBeNull();
    const detail = await t.app.inject({ url: `/api/v1/operations/${pending.id}`, headers: admin });
    expect(detail.json().audit).toHaveLength(1);
  });

  it('sends an uncertain return to manual check; a storekeeper may receive the kit for the engineer', async () => {
    expect((await submit(storekeeper.auth, { toolkit_id: kitId, operation_type: 'checkout', engineer_id: other.id }, photos.full!)).statusCode).toBe(201);
    const res = await submit(storekeeper.auth, { toolkit_id: kitId, operation_type: 'checkin' }, photos.unsureCutters!);
    expect(res.statusCode, res.body).toBe(201);
    expect(res.json()).toMatchObject({ status: 'manual_check', user_id: other.id, acted_by_id: storekeeper.id });
    expect(res.json().result_json.uncertain).toEqual([{ class_key: 'side_cutters', tool_name: 'Бокорезы', count: 1, max_confidence: 0.35 }]);
    const resolved = await t.app.inject({
      method: 'POST',
      url: `/api/v1/operations/${res.json().id}/resolve`,
      headers: storekeeper.auth,
      payload: { decision: 'confirmed', note: 'Бокорезы на месте' },
    });
    expect(resolved.statusCode).toBe(200);
  });

  it('accepts seed 001 JSON with image_base64', async () => {
    const res = await t.app.inject({
      method: 'POST',
      url: '/api/v1/recognize',
      headers: engineer.auth,
      payload: { image_base64: `data:image/jpeg;base64,${photos.full!.toString('base64')}`, operation_type: 'checkout', toolkit_id: kitId },
    });
    expect(res.statusCode, res.body).toBe(200);
    expect(Object.keys(res.json())).toEqual(expect.arrayContaining(['id', 'user_id', 'toolkit_id', 'operation_type', 'timestamp', 'status', 'result_json']));
    const back = await t.app.inject({
      method: 'POST',
      url: '/api/v1/recognize',
      headers: engineer.auth,
      payload: { image_base64: photos.full!.toString('base64'), operation_type: 'checkin', toolkit_id: kitId },
    });
    expect(back.json().status).toBe('success');
    expect(back.json().result_json.lost_since_checkout).toEqual([]);
    const bad = await t.app.inject({ method: 'POST', url: '/api/v1/recognize', headers: engineer.auth, payload: { image_base64: '%%%', operation_type: 'checkout', toolkit_id: kitId } });
    // Well-formed JSON whose image_base64 is not base64: a bad value, 422 as FastAPI.
    expect(bad.statusCode).toBe(422);
    expect(bad.json().code).toBe('request.invalid_base64');
  });

  it('filters history; engineers see only their own', async () => {
    const all = await t.app.inject({ url: '/api/v1/history', headers: admin });
    expect(all.statusCode).toBe(200);
    expect(Number(all.headers['x-total-count'])).toBe(all.json().length);
    expect(all.json().length).toBe(6);
    const timestamps = all.json().map((o: { timestamp: string }) => o.timestamp);
    expect([...timestamps].sort().reverse()).toEqual(timestamps);

    const mine = await t.app.inject({ url: `/api/v1/history?user_id=${other.id}`, headers: engineer.auth });
    expect(mine.json().every((o: { user_id: number }) => o.user_id === engineer.id)).toBe(true);
    const discrepancies = await t.app.inject({ url: '/api/v1/history?status=discrepancy&operation_type=checkin', headers: admin });
    expect(discrepancies.json()).toHaveLength(1);
    const page = await t.app.inject({ url: '/api/v1/history?skip=1&limit=2', headers: admin });
    expect(page.json().map((o: { id: number }) => o.id)).toEqual(all.json().slice(1, 3).map((o: { id: number }) => o.id));
    const future = await t.app.inject({ url: `/api/v1/history?from=${encodeURIComponent(new Date(Date.now() + 60_000).toISOString())}`, headers: admin });
    expect(future.json()).toEqual([]);
    const sqlish = await t.app.inject({ url: `/api/v1/history?status=${encodeURIComponent("success' OR 1=1 --")}`, headers: admin });
    expect(sqlish.statusCode).toBe(422);
  });

  it('bad input: not an image → 415, missing fields → 422, unknown kit → 404; nothing stored', async () => {
    const before = filesUnder(t.config.mediaDir).length;
    const pdf = Buffer.from('%PDF-1.4\n1 0 obj\n<<>>\nendobj\n');
    expect((await submit(engineer.auth, { toolkit_id: kitId, operation_type: 'checkout' }, pdf)).statusCode).toBe(415);
    const missing = await submit(engineer.auth, { operation_type: 'checkout' }, photos.full!);
    expect(missing.statusCode).toBe(422);
    expect(missing.json().errors[0].field).toContain('toolkit_id');
    expect((await submit(engineer.auth, { toolkit_id: 99999, operation_type: 'checkout' }, photos.full!)).statusCode).toBe(404);
    expect(filesUnder(t.config.mediaDir).length).toBe(before);
  });

  it('leaves no operation and no file when the database write fails after the images were stored', async () => {
    const before = filesUnder(t.config.mediaDir).length;
    const [historyBefore] = [(await t.app.inject({ url: '/api/v1/history', headers: admin })).json().length];
    const repo = t.deps.repositories.operations;
    const realInsert = repo.insert;
    let stored = 0;
    repo.insert = async () => {
      stored = filesUnder(t.config.mediaDir).length - before;
      throw new Error('simulated database failure');
    };
    try {
      const res = await submit(engineer.auth, { toolkit_id: kitId, operation_type: 'checkout' }, photos.full!);
      expect(res.statusCode).toBe(503);
      expect(res.json().code).toBe('operation.not_recorded');
      expect(res.json().detail).toMatch(/nothing was saved/);
    } finally {
      repo.insert = realInsert;
    }
    expect(stored).toBe(2); // both images were written before the failure…
    expect(filesUnder(t.config.mediaDir).length).toBe(before); // …and removed after it
    expect((await t.app.inject({ url: '/api/v1/history', headers: admin })).json().length).toBe(historyBefore);
    const kit = await t.app.inject({ url: `/api/v1/toolkits/${kitId}`, headers: admin });
    expect(kit.json().holder).toBeNull();
  });
});

/** Seed 000's /predict/ and /media/ through the API, with a scripted detector. */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTestApp, type TestApp } from '../helpers/app.js';
import { mediaKey, unsigned } from '../helpers/signed-urls.js';
import { createScriptedDetector, kitWithout, solidJpeg } from '../helpers/fake-detector.js';
import { multipartBody } from '../helpers/multipart.js';
import { createUser } from '../helpers/users.js';

describe('POST /predict/', () => {
  let t: TestApp;
  let engineer: Awaited<ReturnType<typeof createUser>>;
  let other: Awaited<ReturnType<typeof createUser>>;
  let kitId: number;
  let photo: Buffer;

  beforeAll(async () => {
    photo = await solidJpeg([90, 90, 90], 640, 480);
    const detector = createScriptedDetector(() => [
      ...kitWithout('pliers'),
      { className: 'pliers', confidence: 0.3 },
      { className: 'mystery', confidence: 0.8 },
    ]);
    t = await buildTestApp({ overrides: { detector } });
    const adminToken = await t.login();
    engineer = await createUser(t, adminToken, 'engineer', 'pred-eng');
    other = await createUser(t, adminToken, 'engineer', 'pred-eng2');
    kitId = (await t.app.inject({ url: '/api/v1/toolkits', headers: engineer.auth })).json().items[0].id;
  });
  afterAll(() => t?.close());

  const predict = async (auth: Record<string, string>, fields: Record<string, string | number | undefined>, files = [{ field: 'image', data: photo }]) => {
    const body = await multipartBody(fields, files);
    return t.app.inject({ method: 'POST', url: '/predict/', headers: { ...auth, ...body.headers }, payload: body.payload });
  };

  it('needs a logged-in user', async () => {
    expect((await predict({}, { toolkit_id: kitId })).statusCode).toBe(401);
  });

  it('returns detections, counts, the comparison, the annotated image URL, the model and timings', async () => {
    const res = await predict(engineer.auth, { toolkit_id: kitId, confidence: 0.5 });
    expect(res.statusCode, res.body).toBe(200);
    const body = res.json();
    expect(body.detections).toHaveLength(12);
    const pliers = body.detections.find((d: { tool_key: string }) => d.tool_key === 'pliers');
    expect(pliers).toMatchObject({ class_name: 'pliers', tool_name: 'Пассатижи', confidence: 0.3, uncertain: true });
    expect(body.detections.find((d: { class_name: string }) => d.class_name === 'mystery')).toMatchObject({ tool_key: null, tool_name: 'mystery' });
    expect(body.unmapped).toEqual(['mystery']);
    expect(body.counts.pliers).toBeUndefined();
    expect(body.comparison).toMatchObject({ status: 'manual_check', missing: [{ class_key: 'pliers', count: 1 }] });
    expect(body.thresholds).toMatchObject({ confidence: 0.5, review_floor: 0.25, match_threshold: 95, iou: 0.7, agnostic_nms: false });
    expect(body.model.sha256).toHaveLength(64);
    expect(Object.keys(body.timings_ms)).toEqual(expect.arrayContaining(['decode', 'inference', 'postprocess', 'annotate', 'total']));
    expect(body.image).toEqual({ width: 640, height: 480 });

    const image = await t.app.inject({ url: body.image_url, headers: engineer.auth });
    expect(image.statusCode).toBe(200);
    expect(image.headers['content-type']).toBe('image/jpeg');
    expect((await t.app.inject({ url: unsigned(body.image_url), headers: other.auth })).statusCode).toBe(403);
    // A refused image is never opened for long: no descriptor of it stays open.
    const file = fs.realpathSync(path.join(t.config.mediaDir, mediaKey(body.image_url)));
    const openOnIt = () =>
      fs.readdirSync('/proc/self/fd').filter((fd) => {
        try {
          return fs.readlinkSync(`/proc/self/fd/${fd}`) === file;
        } catch {
          return false; // closed meanwhile
        }
      }).length;
    for (let i = 0; i < 50 && openOnIt() > 0; i++) await new Promise((r) => setTimeout(r, 20));
    expect(openOnIt()).toBe(0);
  });

  it('applies per-class thresholds set by an admin', async () => {
    const admin = { authorization: `Bearer ${await t.login()}` };
    const put = await t.app.inject({ method: 'PUT', url: '/api/v1/model/thresholds/pliers', headers: admin, payload: { threshold: 0.28 } });
    expect(put.statusCode, put.body).toBe(200);
    try {
      const res = await predict(engineer.auth, { toolkit_id: kitId });
      expect(res.json().comparison.status).toBe('success');
      expect(res.json().thresholds.class_thresholds).toEqual({ pliers: 0.28 });
    } finally {
      await t.app.inject({ method: 'DELETE', url: '/api/v1/model/thresholds/pliers', headers: admin });
    }
  });

  it('maps model classes through aliases set by an admin', async () => {
    const admin = { authorization: `Bearer ${await t.login()}` };
    await t.app.inject({ method: 'PUT', url: '/api/v1/model/aliases/mystery', headers: admin, payload: { class_key: 'brace' } });
    try {
      const res = await predict(engineer.auth, { toolkit_id: kitId });
      expect(res.json().unmapped).toEqual([]);
      expect(res.json().comparison.extra).toEqual([{ class_key: 'brace', tool_name: 'Коловорот', expected: 1, found: 2, count: 1 }]);
    } finally {
      await t.app.inject({ method: 'DELETE', url: '/api/v1/model/aliases/mystery', headers: admin });
    }
  });

  it('takes a confidence field left blank (as a form sends it) as not given, and a blank kit as missing', async () => {
    for (const blank of ['', ' ']) {
      const res = await predict(engineer.auth, { toolkit_id: kitId, confidence: blank });
      expect(res.statusCode, res.body).toBe(200);
      expect(res.json().thresholds.confidence).toBe(0.5);
    }
    const noKit = await predict(engineer.auth, { toolkit_id: '' });
    expect(noKit.statusCode).toBe(422);
    expect(noKit.json().errors).toEqual([expect.objectContaining({ field: 'toolkit_id', message: expect.stringMatching(/required/) })]);
  });

  it('answers bad requests with problem+json', async () => {
    // Fields missing or out of range: 422 request.validation_failed, as FastAPI answers them.
    const noKit = await predict(engineer.auth, {});
    expect(noKit.statusCode).toBe(422);
    expect(noKit.json().code).toBe('request.validation_failed');
    expect(noKit.headers['content-type']).toContain('application/problem+json');
    expect(noKit.json().errors).toEqual([expect.objectContaining({ field: 'toolkit_id' })]);
    const confidence = await predict(engineer.auth, { toolkit_id: kitId, confidence: 2 });
    expect([confidence.statusCode, confidence.json().code]).toEqual([422, 'request.validation_failed']);
    expect(confidence.json().errors).toEqual([expect.objectContaining({ field: 'confidence' })]);
    expect((await predict(engineer.auth, { toolkit_id: 424242 })).statusCode).toBe(404);
    expect((await predict(engineer.auth, { toolkit_id: kitId }, [])).statusCode).toBe(422);
    const twoFiles = await predict(engineer.auth, { toolkit_id: kitId }, [
      { field: 'image', data: photo },
      { field: 'image', data: photo },
    ]);
    expect(twoFiles.statusCode).toBe(413);
    const json = await t.app.inject({ method: 'POST', url: '/predict/', headers: engineer.auth, payload: { toolkit_id: kitId } });
    expect(json.statusCode).toBe(415);
    const notImage = await predict(engineer.auth, { toolkit_id: kitId }, [{ field: 'image', data: Buffer.from('just some text, not a photo') }]);
    expect(notImage.statusCode).toBe(415);
    const heic = await predict(engineer.auth, { toolkit_id: kitId }, [
      { field: 'image', data: fs.readFileSync(new URL('../fixtures/images/iphone-hevc.heic', import.meta.url)) },
    ]);
    expect(heic.statusCode, heic.body).toBe(415);
    expect(heic.headers['content-type']).toContain('application/problem+json');
    expect(heic.json()).toMatchObject({ code: 'image.unsupported_type', detail: expect.stringContaining('Most Compatible') });
  });

  it('answers a malformed or cut-off multipart body with 400 problem+json, on single and batch uploads', async () => {
    for (const [url, field] of [
      ['/predict/', 'image'],
      ['/predict/batch', 'images'],
      ['/api/v1/jobs', 'images'],
    ] as const) {
      const body = await multipartBody({ toolkit_id: kitId }, [{ field, data: photo }]);
      const whole = Buffer.from(body.payload as Buffer);
      const noBoundary = await t.app.inject({
        method: 'POST',
        url,
        headers: { ...engineer.auth, 'content-type': 'multipart/form-data' },
        payload: whole,
      });
      expect(noBoundary.statusCode, `${url} ${noBoundary.body}`).toBe(400);
      expect(noBoundary.headers['content-type']).toContain('application/problem+json');
      expect(noBoundary.json().code).toBe('request.malformed_multipart');

      const cut = await t.app.inject({ method: 'POST', url, headers: { ...engineer.auth, ...body.headers }, payload: whole.subarray(0, whole.length - 200) });
      expect(cut.statusCode, `${url} ${cut.body}`).toBe(400);
      expect(cut.json().code).toBe('request.malformed_multipart');
    }
  });

  it('answers /predict without the trailing slash, as FastAPI clients of the seed call it', async () => {
    const body = await multipartBody({ toolkit_id: kitId }, [{ field: 'image', data: photo }]);
    const res = await t.app.inject({ method: 'POST', url: '/predict', headers: { ...engineer.auth, ...body.headers }, payload: body.payload });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json().comparison.status).toBeDefined();
  });
});

describe('GET /media/ path validation', () => {
  let t: TestApp;
  let auth: Record<string, string>;
  beforeAll(async () => {
    t = await buildTestApp();
    auth = { authorization: `Bearer ${await t.login()}` };
  });
  afterAll(() => t?.close());

  it.each([
    '/media/..%2f..%2fpackage.json',
    '/media/%2e%2e/%2e%2e/package.json',
    '/media/previews/../../package.json',
    '/media/%2fetc%2fpasswd',
    '/media//etc/passwd',
    '/media/a%5c..%5c..%5cpackage.json',
    '/media/previews/%00x.jpg',
    '/media/previews/..%2F..%2F..%2Fpackage.json',
  ])('refuses %s without reading outside the store', async (url) => {
    const res = await t.app.inject({ url, headers: auth });
    expect([400, 404]).toContain(res.statusCode);
    expect(res.headers['content-type']).toContain('application/problem+json');
    expect(res.body).not.toContain('"name": "toolcontrol"');
    expect(res.body).not.toContain('root:');
  });

  it('answers 404 for a valid name that does not exist', async () => {
    const res = await t.app.inject({ url: '/media/previews/2026/11/nothing.jpg', headers: auth });
    expect(res.statusCode).toBe(404);
  });
});

/** PREVIEW_AUTH: previews without a token (seed 000's frontend has no login), rate-limited per address. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTestApp, type TestApp } from '../helpers/app.js';
import { createScriptedDetector, FULL_KIT, solidJpeg } from '../helpers/fake-detector.js';
import { multipartBody } from '../helpers/multipart.js';
import { mediaKey, unsigned } from '../helpers/signed-urls.js';
import { createUser } from '../helpers/users.js';
import { buildZip } from '../helpers/zip-builder.js';

const SIGNED = /^\/media\/previews\/\d{4}\/\d{2}\/[0-9a-f-]+_annotated\.jpg\?exp=\d+&sig=[A-Za-z0-9_-]{43}$/;

async function setup(env: Record<string, string> = {}) {
  const t = await buildTestApp({ overrides: { detector: createScriptedDetector(() => FULL_KIT) }, env });
  const adminToken = await t.login();
  const admin = { authorization: `Bearer ${adminToken}` };
  const engineer = await createUser(t, adminToken, 'engineer', `pa-eng-${Math.random().toString(36).slice(2, 8)}`);
  const kitId = (await t.app.inject({ url: '/api/v1/toolkits', headers: admin })).json().items[0].id as number;
  return { t, admin, engineer, kitId };
}

function previewCalls(t: TestApp, kitId: number, photo: Buffer) {
  const send = async (url: string, files: Array<{ field: string; data: Buffer; filename?: string; type?: string }>, headers: Record<string, string>, remoteAddress?: string) => {
    const body = await multipartBody({ toolkit_id: kitId }, files);
    return t.app.inject({ method: 'POST', url, headers: { ...headers, ...body.headers }, payload: body.payload, ...(remoteAddress ? { remoteAddress } : {}) });
  };
  return {
    predict: (headers: Record<string, string> = {}, remoteAddress?: string) => send('/predict/', [{ field: 'image', data: photo }], headers, remoteAddress),
    batch: (headers: Record<string, string> = {}, remoteAddress?: string) =>
      send('/predict/batch', [{ field: 'images', data: photo, filename: 'a.jpg' }, { field: 'images', data: photo, filename: 'b.jpg' }], headers, remoteAddress),
    zip: (headers: Record<string, string> = {}, remoteAddress?: string) =>
      send('/predict/zip', [{ field: 'zip_file', data: buildZip([{ name: 'one.jpg', data: photo }]), filename: 'p.zip', type: 'application/zip' }], headers, remoteAddress),
  };
}

describe('PREVIEW_AUTH unset (token)', () => {
  let s: Awaited<ReturnType<typeof setup>>;
  let calls: ReturnType<typeof previewCalls>;
  beforeAll(async () => {
    s = await setup();
    calls = previewCalls(s.t, s.kitId, await solidJpeg([90, 90, 90], 160, 120));
  });
  afterAll(() => s?.t.close());

  it('answers every preview route 401 without a token, as before', async () => {
    for (const res of [await calls.predict(), await calls.batch(), await calls.zip()]) {
      expect(res.statusCode).toBe(401);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(res.headers['www-authenticate']).toMatch(/^Bearer/);
      expect(res.headers['x-ratelimit-limit']).toBeUndefined();
    }
    expect(s.t.config.preview).toEqual({ auth: 'token', rateLimitPerMinute: 30 });
  });

  it('still answers with a token', async () => {
    const res = await calls.predict(s.engineer.auth);
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json().image_url).toMatch(SIGNED);
  });
});

describe('PREVIEW_AUTH=none', () => {
  let s: Awaited<ReturnType<typeof setup>>;
  let calls: ReturnType<typeof previewCalls>;
  // Every test from an address of its own: the limit is per client address.
  let address = 0;
  const nextAddress = () => `10.0.0.${++address}`;
  beforeAll(async () => {
    s = await setup({ PREVIEW_AUTH: 'none', PREVIEW_RATE_LIMIT: '3' });
    calls = previewCalls(s.t, s.kitId, await solidJpeg([90, 90, 90], 160, 120));
  });
  afterAll(() => s?.t.close());

  it('answers /predict/ without a token; the image opens from its signed URL with no header', async () => {
    const res = await calls.predict({}, nextAddress());
    expect(res.statusCode, res.body).toBe(200);
    const body = res.json();
    expect(body.image_url).toMatch(SIGNED);
    expect(body.processed_image_url).toBe(body.image_url);
    const image = await s.t.app.inject({ url: body.image_url });
    expect(image.statusCode).toBe(200);
    expect(image.headers['content-type']).toBe('image/jpeg');
    expect(image.rawPayload.subarray(0, 2)).toEqual(Buffer.from([0xff, 0xd8]));
    // Recorded with no owner: engineers cannot open it with their token; storekeepers and admins can.
    expect(await s.t.deps.repositories.predictions.findByImageKey(mediaKey(body.image_url))).toMatchObject({ userId: null });
    expect((await s.t.app.inject({ url: unsigned(body.image_url), headers: s.engineer.auth })).statusCode).toBe(403);
    expect((await s.t.app.inject({ url: unsigned(body.image_url), headers: s.admin })).statusCode).toBe(200);
    expect((await s.t.app.inject({ url: unsigned(body.image_url) })).statusCode).toBe(401);
  });

  it('answers /predict/batch and /predict/zip without a token, their images signed', async () => {
    const batch = await calls.batch({}, nextAddress());
    expect(batch.statusCode, batch.body).toBe(200);
    const zip = await calls.zip({}, nextAddress());
    expect(zip.statusCode, zip.body).toBe(200);
    const results = [...batch.json().results, ...zip.json().results] as Array<{ prediction: { image_url: string }; processed_image_url: string }>;
    expect(results).toHaveLength(3);
    for (const r of results) {
      expect(r.prediction.image_url).toMatch(SIGNED);
      expect(r.processed_image_url).toBe(r.prediction.image_url);
      expect((await s.t.app.inject({ url: r.prediction.image_url })).statusCode).toBe(200);
    }
  });

  it('honours a token that is sent: the preview is its user\'s; a bad one is 401', async () => {
    const res = await calls.predict(s.engineer.auth, nextAddress());
    expect(res.statusCode, res.body).toBe(200);
    const key = mediaKey(res.json().image_url);
    expect(await s.t.deps.repositories.predictions.findByImageKey(key)).toMatchObject({ userId: s.engineer.id });
    expect((await s.t.app.inject({ url: unsigned(res.json().image_url), headers: s.engineer.auth })).statusCode).toBe(200);
    for (const bad of ['Bearer not-a-token', 'Basic abc']) {
      const refused = await calls.predict({ authorization: bad }, nextAddress());
      expect(refused.statusCode).toBe(401);
      expect(refused.headers['content-type']).toMatch(/^application\/problem\+json/);
    }
  });

  it('limits anonymous previews per address: the (N+1)th in a minute gets 429 with Retry-After', async () => {
    const ip = nextAddress();
    for (let i = 0; i < 3; i++) {
      const res = await (i === 1 ? calls.zip({}, ip) : calls.predict({}, ip));
      expect(res.statusCode, res.body).toBe(200);
      expect(res.headers['x-ratelimit-remaining']).toBe(String(2 - i));
    }
    const limited = await calls.predict({}, ip);
    expect(limited.statusCode).toBe(429);
    expect(limited.headers['content-type']).toMatch(/^application\/problem\+json/);
    const retryAfter = Number(limited.headers['retry-after']);
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(limited.json()).toMatchObject({ status: 429, code: 'preview.rate_limited', retry_after: retryAfter });
    // The whole preview family shares the count.
    expect((await calls.batch({}, ip)).statusCode).toBe(429);
    expect((await calls.zip({}, ip)).statusCode).toBe(429);
    // A logged-in client from that address is not limited, nor is another address.
    expect((await calls.predict(s.engineer.auth, ip)).statusCode).toBe(200);
    expect((await calls.predict({}, nextAddress())).statusCode).toBe(200);
  });

  it('does not limit or open anything else: operations, history, jobs and evidence photos need a token', async () => {
    const ip = nextAddress();
    const photo = await solidJpeg([90, 90, 90], 160, 120);
    const checkout = await multipartBody({ toolkit_id: s.kitId, operation_type: 'checkout' }, [{ field: 'image', data: photo }]);
    const anonymous = [
      await s.t.app.inject({ method: 'POST', url: '/api/v1/operations', headers: checkout.headers, payload: checkout.payload, remoteAddress: ip }),
      await s.t.app.inject({ method: 'POST', url: '/api/v1/recognize', payload: { image_base64: photo.toString('base64'), operation_type: 'checkout', toolkit_id: s.kitId }, remoteAddress: ip }),
      await s.t.app.inject({ url: '/api/v1/history', remoteAddress: ip }),
      await s.t.app.inject({ url: '/api/v1/reviews', remoteAddress: ip }),
      await s.t.app.inject({ url: '/api/v1/jobs/00000000-0000-4000-8000-000000000000', remoteAddress: ip }),
      await s.t.app.inject({ method: 'POST', url: '/api/v1/jobs', headers: checkout.headers, payload: checkout.payload, remoteAddress: ip }),
      await s.t.app.inject({ url: '/api/v1/toolkits', remoteAddress: ip }),
    ];
    for (const res of anonymous) {
      expect(res.statusCode, res.body).toBe(401);
      expect(res.headers['x-ratelimit-limit']).toBeUndefined();
    }
    // An operation's evidence: signed URLs open (the API handed them out), the plain ones need a token.
    const body = await multipartBody({ toolkit_id: s.kitId, operation_type: 'checkout' }, [{ field: 'image', data: photo }]);
    const op = await s.t.app.inject({ method: 'POST', url: '/api/v1/operations', headers: { ...s.engineer.auth, ...body.headers }, payload: body.payload });
    expect(op.statusCode, op.body).toBe(201);
    for (const url of [op.json().image_url, op.json().annotated_image_url] as string[]) {
      expect((await s.t.app.inject({ url: unsigned(url) })).statusCode).toBe(401);
      expect((await s.t.app.inject({ url })).statusCode).toBe(200);
    }
  });

  it('names the anonymous option and the 429 in the OpenAPI document', async () => {
    const doc = (await s.t.app.inject({ url: '/openapi.json' })).json();
    for (const path of ['/predict/', '/predict/batch', '/predict/zip']) {
      expect(doc.paths[path].post.security).toEqual([{ bearerAuth: [] }, {}]);
      expect(doc.paths[path].post.responses['429']).toBeDefined();
    }
    expect(doc.paths['/api/v1/history'].get.security).toEqual([{ bearerAuth: [] }]);
  });
});

/** Signed image URLs: every image URL a response carries opens for MEDIA_URL_TTL seconds with no token. */
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMediaUrlSigner, signMediaUrls } from '../../src/media/signed-urls.js';
import type { Clock } from '../../src/shared/clock.js';
import { buildTestApp, type TestApp } from '../helpers/app.js';
import { createScriptedDetector, FULL_KIT, solidJpeg } from '../helpers/fake-detector.js';
import { multipartBody } from '../helpers/multipart.js';
import { mediaKey, unsigned } from '../helpers/signed-urls.js';
import { createUser } from '../helpers/users.js';

const SIGNED = /^\/media\/[a-z]+\/\d{4}\/\d{2}\/[0-9a-f-]+_[a-z]+\.[a-z]+\?exp=(\d+)&sig=([A-Za-z0-9_-]{43})$/;

describe('signed image URLs', () => {
  let t: TestApp;
  let admin: Record<string, string>;
  let engineer: Awaited<ReturnType<typeof createUser>>;
  let other: Awaited<ReturnType<typeof createUser>>;
  let kitId: number;
  let photo: Buffer;
  let offsetMs = 0;
  const clock: Clock = { now: () => new Date(Date.now() + offsetMs) };

  beforeAll(async () => {
    t = await buildTestApp({ overrides: { detector: createScriptedDetector(() => FULL_KIT), clock }, env: { MEDIA_URL_TTL: '60' } });
    const adminToken = await t.login();
    admin = { authorization: `Bearer ${adminToken}` };
    engineer = await createUser(t, adminToken, 'engineer', 'sig-eng');
    other = await createUser(t, adminToken, 'engineer', 'sig-eng2');
    kitId = (await t.app.inject({ url: '/api/v1/toolkits', headers: admin })).json().items[0].id;
    photo = await solidJpeg([70, 80, 90], 160, 120);
  });
  afterAll(() => t?.close());

  const preview = async () => {
    const body = await multipartBody({ toolkit_id: kitId }, [{ field: 'image', data: photo }]);
    const res = await t.app.inject({ method: 'POST', url: '/predict/', headers: { ...engineer.auth, ...body.headers }, payload: body.payload });
    expect(res.statusCode, res.body).toBe(200);
    return res.json() as { image_url: string; processed_image_url: string };
  };

  it('signs a preview\'s URL for MEDIA_URL_TTL seconds; it opens with no header and no token in it', async () => {
    const { image_url: url, processed_image_url: processed } = await preview();
    const [, exp] = SIGNED.exec(url)!;
    const now = Math.floor(Date.now() / 1000);
    expect(Number(exp)).toBeGreaterThanOrEqual(now + 60);
    expect(Number(exp)).toBeLessThanOrEqual(now + 60 + 6);
    expect(processed).toBe(url);
    expect(url).not.toContain('access_token');
    const res = await t.app.inject({ url });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('image/jpeg');
    // Only the key is stored: the database never holds a signature.
    expect(await t.deps.repositories.predictions.findByImageKey(mediaKey(url))).not.toBeNull();
  });

  it('refuses a tampered signature, a changed expiry, or one without the other (401 problem+json)', async () => {
    const { image_url: url } = await preview();
    const [, exp, sig] = SIGNED.exec(url)!;
    const base = unsigned(url);
    const flipped = `${sig![0] === 'A' ? 'B' : 'A'}${sig!.slice(1)}`;
    for (const query of [`exp=${exp}&sig=${flipped}`, `exp=${Number(exp) + 3600}&sig=${sig}`, `exp=${exp}`, `sig=${sig}`, `exp=${exp}&sig=short`, `exp=soon&sig=${sig}`]) {
      const res = await t.app.inject({ url: `${base}?${query}` });
      expect(res.statusCode, query).toBe(401);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(res.headers['www-authenticate']).toMatch(/^Bearer/);
      expect(res.json().code).toBe('media.url_invalid');
    }
    // With a token as well, the token decides (today's rules).
    expect((await t.app.inject({ url: `${base}?exp=${exp}&sig=${flipped}`, headers: engineer.auth })).statusCode).toBe(200);
    expect((await t.app.inject({ url: `${base}?exp=${exp}&sig=${flipped}`, headers: other.auth })).statusCode).toBe(403);
  });

  it('a signature for one image does not open another', async () => {
    const a = await preview();
    const b = await preview();
    const [, exp, sig] = SIGNED.exec(a.image_url)!;
    const res = await t.app.inject({ url: `${unsigned(b.image_url)}?exp=${exp}&sig=${sig}` });
    expect(res.statusCode).toBe(401);
    expect(res.json().code).toBe('media.url_invalid');
    expect((await t.app.inject({ url: b.image_url })).statusCode).toBe(200);
  });

  it('refuses an expired URL without a token (401 media.url_expired); a token still opens it', async () => {
    const { image_url: url } = await preview();
    expect((await t.app.inject({ url })).statusCode).toBe(200);
    offsetMs = 120_000; // past MEDIA_URL_TTL (60 s), within the access token's lifetime
    try {
      const res = await t.app.inject({ url });
      expect(res.statusCode).toBe(401);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(res.json().code).toBe('media.url_expired');
      expect((await t.app.inject({ url, headers: engineer.auth })).statusCode).toBe(200);
      // Fetching the record again gives a fresh one.
      const again = await preview();
      expect((await t.app.inject({ url: again.image_url })).statusCode).toBe(200);
    } finally {
      offsetMs = 0;
    }
  });

  it('a token still opens plain URLs per the access rules; ?access_token= keeps working', async () => {
    const { image_url: url } = await preview();
    expect((await t.app.inject({ url: unsigned(url) })).statusCode).toBe(401);
    expect((await t.app.inject({ url: unsigned(url), headers: engineer.auth })).statusCode).toBe(200);
    expect((await t.app.inject({ url: unsigned(url), headers: other.auth })).statusCode).toBe(403);
    expect((await t.app.inject({ url: unsigned(url), headers: admin })).statusCode).toBe(200);
    expect((await t.app.inject({ url: `${unsigned(url)}?access_token=${engineer.token}` })).statusCode).toBe(200);
    expect((await t.app.inject({ url: `${unsigned(url)}?access_token=${other.token}` })).statusCode).toBe(403);
  });

  it('signs an operation\'s URLs (and those in result_json) in every answer; they open with no token', async () => {
    const body = await multipartBody({ toolkit_id: kitId, operation_type: 'checkout' }, [{ field: 'image', data: photo }]);
    const created = await t.app.inject({ method: 'POST', url: '/api/v1/operations', headers: { ...engineer.auth, ...body.headers }, payload: body.payload });
    expect(created.statusCode, created.body).toBe(201);
    const op = created.json();
    const views = [
      op,
      (await t.app.inject({ url: `/api/v1/operations/${op.id}`, headers: engineer.auth })).json(),
      (await t.app.inject({ url: '/api/v1/history?limit=1', headers: engineer.auth })).json()[0],
    ];
    for (const view of views) {
      for (const url of [view.image_url, view.annotated_image_url, view.result_json.image_url, view.result_json.annotated_image_url]) {
        expect(url).toMatch(SIGNED);
        expect(url).toMatch(/^\/media\/operations\//);
      }
      expect(unsigned(view.result_json.image_url)).toBe(unsigned(view.image_url));
    }
    for (const url of [op.image_url, op.annotated_image_url] as string[]) {
      expect((await t.app.inject({ url })).statusCode).toBe(200);
      expect((await t.app.inject({ url: unsigned(url) })).statusCode).toBe(401);
      expect((await t.app.inject({ url: unsigned(url), headers: other.auth })).statusCode).toBe(403);
    }
    // Stored plain: the row keeps keys and unsigned URLs.
    const stored = JSON.stringify(await t.deps.database.db.execute(sql`SELECT result_json FROM operations WHERE id = ${op.id}`));
    expect(stored).toContain(unsigned(op.image_url));
    expect(stored).not.toContain('sig=');
    // Give the kit back, so other tests find it free.
    const back = await multipartBody({ toolkit_id: kitId, operation_type: 'checkin' }, [{ field: 'image', data: photo }]);
    expect((await t.app.inject({ method: 'POST', url: '/api/v1/operations', headers: { ...engineer.auth, ...back.headers }, payload: back.payload })).statusCode).toBe(201);
  });

  it('signs job results (page, report.json, events, CSV)', async () => {
    const body = await multipartBody({ toolkit_id: kitId }, [{ field: 'images', data: photo, filename: 'a.jpg' }]);
    const accepted = await t.app.inject({ method: 'POST', url: '/api/v1/jobs', headers: { ...engineer.auth, ...body.headers }, payload: body.payload });
    expect(accepted.statusCode, accepted.body).toBe(202);
    const id = accepted.json().job_id as string;
    let job = { state: 'queued', results: [] as Array<{ prediction: { image_url: string } }> };
    for (let i = 0; i < 200 && job.state !== 'completed'; i++) {
      job = (await t.app.inject({ url: `/api/v1/jobs/${id}`, headers: engineer.auth })).json();
      if (job.state !== 'completed') await new Promise((r) => setTimeout(r, 25));
    }
    expect(job.state).toBe('completed');
    const url = job.results[0]!.prediction.image_url;
    expect(url).toMatch(SIGNED);
    const image = await t.app.inject({ url });
    expect(image.statusCode).toBe(200);
    expect(image.headers['content-type']).toBe('image/jpeg');
    const report = (await t.app.inject({ url: `/api/v1/jobs/${id}/report.json`, headers: engineer.auth })).json();
    expect(report.results[0].prediction.image_url).toMatch(SIGNED);
    const events = await t.app.inject({ url: `/api/v1/jobs/${id}/events`, headers: engineer.auth });
    const item = events.body.split('\n\n').find((f) => f.startsWith('id:') && f.includes('event: item'))!;
    expect(JSON.parse(/data: (.*)/.exec(item)![1]!).prediction.image_url).toMatch(SIGNED);
    const csv = (await t.app.inject({ url: `/api/v1/jobs/${id}/report.csv`, headers: engineer.auth })).body;
    expect(csv.split('\r\n')[1]).toMatch(/,\/media\/previews\/[^,]+\?exp=\d+&sig=[A-Za-z0-9_-]{43},/);
  });

  it('names the media route /media/{filename} in the OpenAPI document', async () => {
    const doc = (await t.app.inject({ url: '/openapi.json' })).json();
    expect(doc.paths['/media/{*}']).toBeUndefined();
    const route = doc.paths['/media/{filename}'].get;
    expect(route.parameters.filter((p: { in: string }) => p.in === 'path').map((p: { name: string }) => p.name)).toEqual(['filename']);
    expect(route.parameters.filter((p: { in: string }) => p.in === 'query').map((p: { name: string }) => p.name).sort()).toEqual(['access_token', 'exp', 'sig']);
    expect(route.security).toEqual([{ bearerAuth: [] }, {}]);
  });
});

describe('signMediaUrls', () => {
  const signer = createMediaUrlSigner({ secret: 's'.repeat(40), ttlSeconds: 3600, clock: { now: () => new Date(1_800_000_000_000) } });

  it('signs image URL fields at any depth, leaves the rest, and never changes its input', () => {
    const input = {
      image_url: '/media/previews/2026/11/x_annotated.jpg',
      other_url: '/media/previews/2026/11/x_annotated.jpg',
      nested: [{ processed_image_url: '/media/a.jpg', annotated_image_url: 'https://elsewhere/x.jpg' }, { image_url: null }],
      when: new Date(0),
    };
    const frozen = structuredClone(input);
    const out = signMediaUrls(input, signer);
    expect(input).toEqual(frozen);
    expect(out.image_url).toMatch(/^\/media\/previews\/2026\/11\/x_annotated\.jpg\?exp=\d+&sig=/);
    expect(out.other_url).toBe(input.other_url);
    expect(out.nested[0]!.processed_image_url).toMatch(/^\/media\/a\.jpg\?exp=/);
    expect(out.nested[0]!.annotated_image_url).toBe('https://elsewhere/x.jpg');
    expect(out.nested[1]).toBe(input.nested[1]);
    expect(out.when).toBe(input.when);
    expect(signMediaUrls(out, signer)).toEqual(out); // already signed: unchanged
  });

  it('verifies exactly what it signed, until it expires; another secret does not', () => {
    const { exp, sig } = signer.sign('a/b.jpg');
    expect(signer.verify('a/b.jpg', String(exp), sig)).toBe('valid');
    expect(signer.verify('a/c.jpg', String(exp), sig)).toBe('invalid');
    const other = createMediaUrlSigner({ secret: 't'.repeat(40), ttlSeconds: 3600, clock: { now: () => new Date(1_800_000_000_000) } });
    expect(other.verify('a/b.jpg', String(exp), sig)).toBe('invalid');
    const later = createMediaUrlSigner({ secret: 's'.repeat(40), ttlSeconds: 3600, clock: { now: () => new Date((exp + 1) * 1000) } });
    expect(later.verify('a/b.jpg', String(exp), sig)).toBe('expired');
  });
});

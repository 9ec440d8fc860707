/** Seed 000's synchronous /predict/batch and /predict/zip. */
import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTestApp, type TestApp } from '../helpers/app.js';
import { createScriptedDetector, FULL_KIT, kitWithout, solidJpeg, type ScriptedDetection } from '../helpers/fake-detector.js';
import { multipartBody } from '../helpers/multipart.js';
import { createUser } from '../helpers/users.js';
import { buildZip } from '../helpers/zip-builder.js';

describe('POST /predict/batch and /predict/zip', () => {
  let t: TestApp;
  let user: Awaited<ReturnType<typeof createUser>>;
  let kitId: number;
  const scenes = new Map<string, ScriptedDetection[]>();
  const photos: Record<'full' | 'noCutters' | 'noPliers', Buffer> = {} as never;

  beforeAll(async () => {
    photos.full = await solidJpeg([200, 30, 30]);
    photos.noCutters = await solidJpeg([30, 200, 30]);
    photos.noPliers = await solidJpeg([30, 30, 200]);
    scenes.set(photos.full.toString('base64'), FULL_KIT);
    scenes.set(photos.noCutters.toString('base64'), kitWithout('side_cutters'));
    scenes.set(photos.noPliers.toString('base64'), kitWithout('pliers', 'side_cutters'));
    const detector = createScriptedDetector((image) => scenes.get(image.toString('base64')) ?? []);
    t = await buildTestApp({ overrides: { detector }, env: { SYNC_BATCH_LIMIT: '4' } });
    user = await createUser(t, await t.login(), 'engineer', 'batch-user');
    kitId = (await t.app.inject({ url: '/api/v1/toolkits', headers: user.auth })).json().items[0].id;
  });
  afterAll(() => t?.close());

  const post = async (url: string, files: Array<{ field: string; data: Buffer; filename?: string }>, fields: Record<string, string | number> = {}, auth: Record<string, string> = user.auth) => {
    const body = await multipartBody({ toolkit_id: kitId, ...fields }, files);
    return t.app.inject({ method: 'POST', url, headers: { ...auth, ...body.headers }, payload: body.payload });
  };

  it('recognises each photo; a bad one gets its own problem; the summary counts kits and missing tools', async () => {
    // A photo larger than the in-memory threshold is spooled to disk on the way in.
    const big = await sharp({ create: { width: 1600, height: 1200, channels: 3, background: '#808080', noise: { type: 'gaussian', mean: 128, sigma: 60 } } })
      .jpeg({ quality: 95 })
      .toBuffer();
    expect(big.length).toBeGreaterThan(1024 * 1024);
    scenes.set(big.toString('base64'), FULL_KIT);
    const res = await post('/predict/batch', [
      { field: 'images', data: photos.full, filename: 'full.jpg' },
      { field: 'images', data: photos.noCutters, filename: 'no-cutters.jpg' },
      { field: 'images', data: Buffer.from('GIF89a not really'), filename: 'broken.gif' },
      { field: 'images', data: Buffer.from('%PDF-1.4 a pdf'), filename: 'doc.jpg' },
    ]);
    expect(res.statusCode, res.body).toBe(200);
    const body = res.json();
    expect(body.results.map((r: { filename: string }) => r.filename)).toEqual(['full.jpg', 'no-cutters.jpg', 'broken.gif']);
    expect(body.results[0].prediction.comparison.status).toBe('success');
    expect(body.results[0].prediction.image_url).toMatch(/^\/media\/previews\//);
    expect(body.results[1]).toMatchObject({ index: 1, error: null, prediction: { comparison: { status: 'discrepancy' } } });
    expect(body.results[2]).toMatchObject({ index: 2, prediction: null, error: { status: 422, code: 'image.corrupt' } });
    expect(body.skipped).toEqual([{ entry_name: 'doc.jpg', reason: 'not_an_image', detail: expect.any(String) }]);
    expect(body.summary).toEqual({ images: 3, processed: 2, failed: 1, skipped: 1, kits_complete: 1, tools_missing: { side_cutters: 1 } });

    const spooled = await post('/predict/batch', [{ field: 'images', data: big, filename: 'big.jpg' }]);
    expect(spooled.statusCode, spooled.body).toBe(200);
    expect(spooled.json().summary).toMatchObject({ processed: 1, kits_complete: 1 });
    // Spooled (the folder exists) and removed afterwards.
    expect(fs.readdirSync(path.join(t.config.dataDir, 'tmp'))).toEqual([]);
  });

  it('recognises the photos of a ZIP archive', async () => {
    const zip = buildZip([
      { name: 'a/full.jpg', data: photos.full },
      { name: 'a/no-pliers.jpg', data: photos.noPliers },
      { name: 'a/readme.txt', data: Buffer.from('hello') },
    ]);
    const res = await post('/predict/zip', [{ field: 'zip_file', data: zip, filename: 'shift.zip' }], { confidence: 0.6 });
    expect(res.statusCode, res.body).toBe(200);
    const body = res.json();
    expect(body.results.map((r: { filename: string; index: number }) => [r.index, r.filename])).toEqual([
      [0, 'a/full.jpg'],
      [1, 'a/no-pliers.jpg'],
    ]);
    expect(body.results[0].prediction.thresholds.confidence).toBe(0.6);
    expect(body.summary).toEqual({ images: 2, processed: 2, failed: 0, skipped: 1, kits_complete: 1, tools_missing: { pliers: 1, side_cutters: 1 } });
  });

  it('sends more than SYNC_BATCH_LIMIT images to the jobs API with a 413', async () => {
    const five = Array.from({ length: 5 }, (_, i) => ({ field: 'images', data: photos.full, filename: `${i}.jpg` }));
    const batch = await post('/predict/batch', five);
    expect(batch.statusCode).toBe(413);
    expect(batch.json()).toMatchObject({ code: 'batch.too_large', sync_limit: 4, jobs_url: '/api/v1/jobs', detail: expect.stringContaining('POST /api/v1/jobs') });

    const zip = buildZip(Array.from({ length: 5 }, (_, i) => ({ name: `${i}.jpg`, data: photos.full })));
    const archive = await post('/predict/zip', [{ field: 'zip_file', data: zip, filename: 'big.zip' }]);
    expect(archive.statusCode).toBe(413);
    expect(archive.json()).toMatchObject({ code: 'batch.too_large', images: 5, sync_limit: 4 });
  });

  it('validates the request', async () => {
    expect((await post('/predict/batch', [{ field: 'images', data: photos.full }], {}, {})).statusCode).toBe(401);
    // A file missing, or in a field the route does not take: 422 as FastAPI, with a stable code.
    const noImages = await post('/predict/batch', []);
    expect([noImages.statusCode, noImages.json().code]).toEqual([422, 'request.validation_failed']);
    const noArchive = await post('/predict/zip', []);
    expect([noArchive.statusCode, noArchive.json().code]).toEqual([422, 'request.validation_failed']);
    const wrongField = await post('/predict/batch', [{ field: 'image', data: photos.full }]);
    expect([wrongField.statusCode, wrongField.json().code]).toEqual([422, 'request.unexpected_file']);
    expect((await post('/predict/batch', [{ field: 'images', data: photos.full }], { toolkit_id: 4242 })).statusCode).toBe(404);
    const noKit = await post('/predict/batch', [{ field: 'images', data: photos.full }], { toolkit_id: 'abc' });
    expect(noKit.statusCode).toBe(422);
    expect(noKit.json().code).toBe('request.validation_failed');
  });

  it('refuses files over the size limits with 413', async () => {
    const small = await buildTestApp({ overrides: { detector: createScriptedDetector(() => FULL_KIT) }, env: { MAX_UPLOAD_BYTES: '2048', MAX_ARCHIVE_BYTES: '4096' } });
    try {
      const token = await small.login();
      const kits = (await small.app.inject({ url: '/api/v1/toolkits', headers: { authorization: `Bearer ${token}` } })).json();
      const send = async (url: string, field: string, data: Buffer) => {
        const body = await multipartBody({ toolkit_id: kits.items[0].id }, [{ field, data, filename: 'x' }]);
        return small.app.inject({ method: 'POST', url, headers: { authorization: `Bearer ${token}`, ...body.headers }, payload: body.payload });
      };
      const big = await send('/predict/batch', 'images', Buffer.alloc(3000, 1));
      expect(big.statusCode).toBe(413);
      expect(big.json().code).toBe('request.too_large');
      const bigZip = await send('/api/v1/jobs', 'zip_file', Buffer.alloc(5000, 1));
      expect(bigZip.statusCode).toBe(413);
      expect(fs.readdirSync(path.join(small.config.dataDir, 'tmp'))).toEqual([]);
    } finally {
      await small.close();
    }
  });
});

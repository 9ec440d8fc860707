/**
 * Retention: previews (and finished jobs) older than PREVIEW_RETENTION_HOURS go, with
 * their images; operation evidence stays, however old.
 */
import fs from 'node:fs';
import path from 'node:path';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Clock } from '../../src/shared/clock.js';
import { buildTestApp, type TestApp } from '../helpers/app.js';
import { mediaKey } from '../helpers/signed-urls.js';
import { createScriptedDetector, FULL_KIT, solidJpeg } from '../helpers/fake-detector.js';
import { multipartBody } from '../helpers/multipart.js';
import { createUser } from '../helpers/users.js';

describe('retention of previews', () => {
  let t: TestApp;
  let auth: Record<string, string>;
  let engineer: Awaited<ReturnType<typeof createUser>>;
  let kitId: number;
  let offsetMs = 0;
  const clock: Clock = { now: () => new Date(Date.now() + offsetMs) };

  beforeAll(async () => {
    t = await buildTestApp({ overrides: { detector: createScriptedDetector(() => FULL_KIT), clock }, env: { PREVIEW_RETENTION_HOURS: '72' } });
    const adminToken = await t.login();
    auth = { authorization: `Bearer ${adminToken}` };
    engineer = await createUser(t, adminToken, 'engineer', 'ret-eng');
    kitId = (await t.app.inject({ url: '/api/v1/toolkits', headers: auth })).json().items[0].id;
  });
  afterAll(() => t?.close());

  const upload = async (url: string, fields: Record<string, string | number>, field: string, data: Buffer) => {
    const body = await multipartBody(fields, [{ field, data }]);
    const res = await t.app.inject({ method: 'POST', url, headers: { ...engineer.auth, ...body.headers }, payload: body.payload });
    expect(res.statusCode, res.body).toBeLessThan(300);
    return res.json();
  };
  const stored = (url: string) => fs.existsSync(path.join(t.config.mediaDir, mediaKey(url)));

  it('deletes previews and finished jobs older than the retention, never operation evidence', async () => {
    const photo = await solidJpeg([40, 50, 60]);
    const preview = await upload('/predict/', { toolkit_id: kitId }, 'image', photo);
    const operation = await upload('/api/v1/operations', { toolkit_id: kitId, operation_type: 'checkout' }, 'image', photo);
    const job = await upload('/api/v1/jobs', { toolkit_id: kitId }, 'images', photo);
    for (let i = 0; i < 100; i++) {
      const state = (await t.app.inject({ url: `/api/v1/jobs/${job.job_id}`, headers: engineer.auth })).json().state;
      if (state === 'completed') break;
      await new Promise((r) => setTimeout(r, 50));
    }
    const jobImage = (await t.app.inject({ url: `/api/v1/jobs/${job.job_id}`, headers: engineer.auth })).json().results[0].prediction.image_url;
    // A job's annotated image is drawn when first opened; the job's photo is kept for it.
    expect(stored(jobImage)).toBe(false);
    expect((await t.app.inject({ url: jobImage, headers: engineer.auth })).statusCode).toBe(200);
    const jobPhotos = () => fs.readdirSync(t.config.mediaDir, { recursive: true }).filter((f) => String(f).includes(job.job_id));
    expect(jobPhotos()).toHaveLength(1);
    const evidence = [operation.image_url, operation.annotated_image_url];
    expect([preview.image_url, jobImage, ...evidence].every(stored)).toBe(true);

    // Young: nothing happens.
    expect(await t.deps.services.retention.run()).toEqual({ previews: 0, images: 0, jobs: 0 });
    expect(stored(preview.image_url)).toBe(true);

    // 73 hours later.
    offsetMs = 73 * 3600_000;
    const result = await t.deps.services.retention.run();
    // The preview's annotated image; the job preview's annotated image and its photo.
    expect(result).toMatchObject({ previews: 2, images: 3, jobs: 1 });
    expect(stored(preview.image_url)).toBe(false);
    expect(stored(jobImage)).toBe(false);
    expect(jobPhotos()).toEqual([]);
    // Tokens from 73 hours ago have expired too.
    engineer.auth = { authorization: `Bearer ${await t.login('ret-eng', 'ret-eng-password')}` };
    auth = { authorization: `Bearer ${await t.login()}` };
    expect((await t.app.inject({ url: preview.image_url, headers: engineer.auth })).statusCode).toBe(404);
    expect((await t.app.inject({ url: `/api/v1/jobs/${job.job_id}`, headers: engineer.auth })).statusCode).toBe(404);
    // The operation and its evidence are untouched.
    expect(evidence.every(stored)).toBe(true);
    expect((await t.app.inject({ url: operation.annotated_image_url, headers: engineer.auth })).statusCode).toBe(200);
    expect((await t.app.inject({ url: `/api/v1/operations/${operation.id}`, headers: auth })).statusCode).toBe(200);

    // Idempotent.
    expect(await t.deps.services.retention.run()).toEqual({ previews: 0, images: 0, jobs: 0 });
  });

  it('keeps the previews of a job that is still running, however old they are', async () => {
    offsetMs = 0;
    engineer.auth = { authorization: `Bearer ${await t.login('ret-eng', 'ret-eng-password')}` };
    const job = await upload('/api/v1/jobs', { toolkit_id: kitId }, 'images', await solidJpeg([70, 80, 90]));
    let view: { state: string; results: Array<{ prediction: { image_url: string } }> } = { state: 'queued', results: [] };
    for (let i = 0; i < 100 && view.state !== 'completed'; i++) {
      await new Promise((r) => setTimeout(r, 50));
      view = (await t.app.inject({ url: `/api/v1/jobs/${job.job_id}`, headers: engineer.auth })).json();
    }
    expect(view.state).toBe('completed');
    // As if its last item were still being worked on.
    await t.deps.database.db.execute(sql`UPDATE jobs SET state = 'running', finished_at = NULL WHERE id = ${job.job_id}`);
    const image = view.results[0]!.prediction.image_url;

    offsetMs = 73 * 3600_000;
    expect(await t.deps.services.retention.run()).toEqual({ previews: 0, images: 0, jobs: 0 });
    engineer.auth = { authorization: `Bearer ${await t.login('ret-eng', 'ret-eng-password')}` };
    expect((await t.app.inject({ url: image, headers: engineer.auth })).statusCode).toBe(200);

    // Finished now: kept for the retention from now, then deleted with its job.
    await t.deps.database.db.execute(sql`UPDATE jobs SET state = 'completed', finished_at = ${new Date(Date.now() + offsetMs).toISOString()} WHERE id = ${job.job_id}`);
    expect(await t.deps.services.retention.run()).toEqual({ previews: 0, images: 0, jobs: 0 });
    offsetMs = 147 * 3600_000;
    expect(await t.deps.services.retention.run()).toMatchObject({ previews: 1, jobs: 1 });
  });
});

describe('retention schedule', () => {
  it('runs on its own every RETENTION_INTERVAL_MINUTES (in-process without Redis)', async () => {
    const t = await buildTestApp({
      overrides: { detector: createScriptedDetector(() => FULL_KIT) },
      // 0.36 s retention, checked every 0.12 s.
      env: { PREVIEW_RETENTION_HOURS: '0.0001', RETENTION_INTERVAL_MINUTES: '0.002' },
    });
    try {
      const auth = { authorization: `Bearer ${await t.login()}` };
      const kitId = (await t.app.inject({ url: '/api/v1/toolkits', headers: auth })).json().items[0].id;
      const body = await multipartBody({ toolkit_id: kitId }, [{ field: 'image', data: await solidJpeg([1, 1, 1]) }]);
      const preview = (await t.app.inject({ method: 'POST', url: '/predict/', headers: { ...auth, ...body.headers }, payload: body.payload })).json();
      const file = path.join(t.config.mediaDir, mediaKey(preview.image_url));
      expect(fs.existsSync(file)).toBe(true);
      for (let i = 0; i < 60 && fs.existsSync(file); i++) await new Promise((r) => setTimeout(r, 100));
      expect(fs.existsSync(file)).toBe(false);
    } finally {
      await t.close();
    }
  });
});

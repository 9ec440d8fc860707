/** The jobs API without Redis: the API process runs the jobs (in-process queue). */
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import sharp from 'sharp';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JobEvent } from '../../src/services/job-service.js';
import { buildTestApp, type TestApp } from '../helpers/app.js';
import { mediaKey, unsigned, withoutSignatures } from '../helpers/signed-urls.js';
import { createScriptedDetector, FULL_KIT, kitWithout, solidJpeg, type ScriptedDetection } from '../helpers/fake-detector.js';
import { multipartBody } from '../helpers/multipart.js';
import { createUser } from '../helpers/users.js';
import { buildZip } from '../helpers/zip-builder.js';

type User = Awaited<ReturnType<typeof createUser>>;

function filesUnder(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => path.join(e.parentPath, e.name));
}

describe('jobs API (in-process queue)', () => {
  let t: TestApp;
  let owner: User;
  let other: User;
  let storekeeper: User;
  let kitId: number;
  const scenes = new Map<string, ScriptedDetection[]>();
  let delayMs = 0;
  const photos: Buffer[] = [];

  beforeAll(async () => {
    for (let i = 0; i < 6; i++) {
      const photo = await solidJpeg([20 + i * 30, 40, 200 - i * 20], 160, 120);
      photos.push(photo);
      scenes.set(photo.toString('base64'), i % 2 === 0 ? FULL_KIT : kitWithout('side_cutters', 'pliers'));
    }
    const scripted = createScriptedDetector((image) => scenes.get(image.toString('base64')) ?? []);
    const detector = {
      ...scripted,
      info: scripted.info,
      async detect(image: Buffer, options: { confidence: number }) {
        if (delayMs) await new Promise((r) => setTimeout(r, delayMs));
        return scripted.detect(image, options);
      },
    };
    t = await buildTestApp({ overrides: { detector }, env: { JOB_CONCURRENCY: '2', RESULT_CACHE_TTL: '0' } });
    const admin = await t.login();
    owner = await createUser(t, admin, 'engineer', 'job-owner');
    other = await createUser(t, admin, 'engineer', 'job-other');
    storekeeper = await createUser(t, admin, 'storekeeper', 'job-store');
    kitId = (await t.app.inject({ url: '/api/v1/toolkits', headers: owner.auth })).json().items[0].id;
  });
  afterAll(() => t?.close());

  const submit = async (auth: Record<string, string>, files: Array<{ field: string; data: Buffer; filename?: string; type?: string }>, fields: Record<string, string | number> = {}) => {
    const body = await multipartBody({ toolkit_id: kitId, ...fields }, files);
    return t.app.inject({ method: 'POST', url: '/api/v1/jobs', headers: { ...auth, ...body.headers }, payload: body.payload });
  };

  const waitFor = async (id: string, auth: Record<string, string>, states = ['completed', 'failed', 'cancelled']) => {
    for (let i = 0; i < 200; i++) {
      const res = await t.app.inject({ url: `/api/v1/jobs/${id}`, headers: auth });
      if (states.includes(res.json().state)) return res.json();
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error('job did not finish');
  };

  const archive = () =>
    buildZip([
      ...photos.map((data, i) => ({ name: `shift/photo-${i}.jpg`, data })),
      { name: 'shift/', data: Buffer.alloc(0) },
      { name: 'notes.txt', data: Buffer.from('not a photo') },
    ]);

  it('runs a ZIP archive as a job: 202, progress, per-image results, summary, skipped entries', async () => {
    const res = await submit(owner.auth, [{ field: 'zip_file', data: archive(), filename: 'shift.zip', type: 'application/zip' }]);
    expect(res.statusCode, res.body).toBe(202);
    const accepted = res.json();
    expect(accepted).toMatchObject({ state: 'queued', total: 6, deduplicated: false, status_url: `/api/v1/jobs/${accepted.job_id}` });
    expect(res.headers.location).toBe(accepted.status_url);
    expect(accepted.skipped.map((s: { reason: string }) => s.reason).sort()).toEqual(['directory', 'not_an_image']);

    const job = await waitFor(accepted.job_id, owner.auth);
    expect(job).toMatchObject({ state: 'completed', total: 6, processed: 6, failed: 0, source: 'zip', archive_name: 'shift.zip' });
    expect(job.results).toHaveLength(6);
    expect(job.results.map((r: { entry_name: string }) => r.entry_name)).toEqual(photos.map((_, i) => `shift/photo-${i}.jpg`));
    // The name also as /predict/batch results give it.
    expect(job.results.map((r: { filename: string }) => r.filename)).toEqual(photos.map((_, i) => `shift/photo-${i}.jpg`));
    expect(job.results[0].prediction.comparison.status).toBe('success');
    expect(job.results[1].prediction.comparison.missing.map((m: { class_key: string }) => m.class_key).sort()).toEqual(['pliers', 'side_cutters']);
    expect(job.summary).toEqual({ images: 6, processed: 6, failed: 0, skipped: 2, kits_complete: 3, tools_missing: { side_cutters: 3, pliers: 3 } });
    // Results come in pages (skip/limit); the summary covers them all.
    const page = (await t.app.inject({ url: `/api/v1/jobs/${accepted.job_id}?skip=2&limit=3`, headers: owner.auth })).json();
    expect(page.results.map((r: { entry_name: string }) => r.entry_name)).toEqual(['shift/photo-2.jpg', 'shift/photo-3.jpg', 'shift/photo-4.jpg']);
    expect(page.summary).toEqual(job.summary);
    expect((await t.app.inject({ url: `/api/v1/jobs/${accepted.job_id}?limit=0`, headers: owner.auth })).statusCode).toBe(422);

    // The annotated images are the owner's previews, drawn when first opened: the same
    // picture /predict/ draws at once for the same photo.
    const url = job.results[1].prediction.image_url as string;
    const onDisk = () => fs.existsSync(path.join(t.config.mediaDir, mediaKey(url)));
    expect(onDisk()).toBe(false);
    expect((await t.app.inject({ url: unsigned(url), headers: other.auth })).statusCode).toBe(403);
    const image = await t.app.inject({ url, headers: owner.auth });
    expect(image.statusCode).toBe(200);
    expect(image.headers['content-type']).toBe('image/jpeg');
    expect(onDisk()).toBe(true);
    const body = await multipartBody({ toolkit_id: kitId }, [{ field: 'image', data: photos[1]! }]);
    const eager = await t.app.inject({ method: 'POST', url: '/predict/', headers: { ...owner.auth, ...body.headers }, payload: body.payload });
    const eagerImage = await t.app.inject({ url: eager.json().image_url, headers: owner.auth });
    const [lazyPixels, eagerPixels] = await Promise.all([image, eagerImage].map((r) => sharp(r.rawPayload).raw().toBuffer()));
    expect(lazyPixels!.length).toBe(eagerPixels!.length);
    let diff = 0;
    for (let i = 0; i < lazyPixels!.length; i++) diff += Math.abs(lazyPixels![i]! - eagerPixels![i]!);
    expect(diff / lazyPixels!.length).toBeLessThan(1);
    expect((await t.app.inject({ url, headers: owner.auth })).rawPayload.equals(image.rawPayload)).toBe(true);

    // The input photos pass to the previews (retention removes them with the previews): the job holds none.
    let inputs = 6;
    for (let i = 0; i < 100 && inputs > 0; i++) {
      const { items } = await t.deps.jobs.service.report({ id: owner.id, role: 'engineer' }, accepted.job_id);
      inputs = items.filter((item) => item.sourceKey !== null).length;
      if (inputs > 0) await new Promise((r) => setTimeout(r, 20));
    }
    expect(inputs).toBe(0);
    expect(fs.readdirSync(t.config.mediaDir, { recursive: true }).filter((f) => String(f).includes(accepted.job_id))).toHaveLength(6);
  });

  it('pages the results of a larger job in archive order; the summary, the report and the events agree', async () => {
    const zip = buildZip(Array.from({ length: 25 }, (_, i) => ({ name: `big/photo-${String(i).padStart(2, '0')}.jpg`, data: photos[i % 6]! })));
    const res = await submit(owner.auth, [{ field: 'zip_file', data: zip, filename: 'big.zip', type: 'application/zip' }]);
    expect(res.statusCode, res.body).toBe(202);
    const id = res.json().job_id as string;
    const job = await waitFor(id, owner.auth);
    expect(job).toMatchObject({ state: 'completed', total: 25, processed: 25 });
    const names = Array.from({ length: 25 }, (_, i) => `big/photo-${String(i).padStart(2, '0')}.jpg`);
    // Photos 0, 2, 4 (of each six) are complete kits; the others miss side cutters and pliers.
    expect(job.summary).toEqual({ images: 25, processed: 25, failed: 0, skipped: 0, kits_complete: 13, tools_missing: { side_cutters: 12, pliers: 12 } });
    expect(job.results.map((r: { entry_name: string }) => r.entry_name)).toEqual(names);

    const page = async (query: string) => (await t.app.inject({ url: `/api/v1/jobs/${id}?${query}`, headers: owner.auth })).json();
    const pages = [await page('limit=10'), await page('skip=10&limit=10'), await page('skip=20&limit=10')];
    expect(pages.map((p) => p.results.length)).toEqual([10, 10, 5]);
    expect(pages.flatMap((p) => p.results)).toEqual(job.results);
    expect(pages.map((p) => p.results[0].index)).toEqual([0, 10, 20]);
    for (const p of pages) expect(p.summary).toEqual(job.summary);
    expect((await page('skip=25&limit=10')).results).toEqual([]);
    expect((await page('skip=7&limit=1')).results.map((r: { entry_name: string }) => r.entry_name)).toEqual([names[7]]);

    // report.json computes its summary from every item at once: the same, key order included.
    const report = await t.deps.jobs.service.report({ id: owner.id, role: 'engineer' }, id);
    expect(JSON.stringify(report.job.summary)).toBe(JSON.stringify(job.summary));
    expect(report.job.results).toEqual(withoutSignatures(job.results));

    // Following the finished job: every item once, then done with the same summary.
    const events = await t.app.inject({ url: `/api/v1/jobs/${id}/events?access_token=${owner.token}` });
    const frames = events.body
      .split('\n\n')
      .filter((f) => f.startsWith('event:') || f.startsWith('id:'))
      .map((f) => ({ event: /event: (\w+)/.exec(f)![1], data: JSON.parse(/data: (.*)/.exec(f)![1]!) }));
    expect(frames.filter((f) => f.event === 'item').map((f) => f.data.entry_name).sort()).toEqual(names);
    expect(frames.at(-1)).toEqual({ event: 'done', data: { state: 'completed', summary: job.summary, error: null } });
  });

  it('streams the job as Server-Sent Events (token in the query for EventSource)', async () => {
    const res = await submit(owner.auth, [{ field: 'images', data: photos[0]!, filename: 'a.jpg' }, { field: 'images', data: photos[1]!, filename: 'b.jpg' }]);
    expect(res.statusCode, res.body).toBe(202);
    const { job_id: id } = res.json();
    const events = await t.app.inject({ url: `/api/v1/jobs/${id}/events?access_token=${owner.token}` });
    expect(events.statusCode).toBe(200);
    expect(events.headers['content-type']).toMatch(/^text\/event-stream/);
    const frames = events.body
      .split('\n\n')
      .filter((f) => f.startsWith('event:') || f.startsWith('id:'))
      .map((f) => ({ event: /event: (\w+)/.exec(f)![1], data: JSON.parse(/data: (.*)/.exec(f)![1]!) }));
    expect(frames.filter((f) => f.event === 'item').map((f) => f.data.entry_name).sort()).toEqual(['a.jpg', 'b.jpg']);
    expect(frames.some((f) => f.event === 'progress')).toBe(true);
    const done = frames.at(-1)!;
    expect(done.event).toBe('done');
    expect(done.data).toMatchObject({ state: 'completed', summary: { images: 2, processed: 2, kits_complete: 1 } });
  });

  it('gives reports as CSV and JSON', async () => {
    const res = await submit(owner.auth, [
      { field: 'zip_file', data: buildZip([{ name: '=cmd.jpg', data: photos[1]! }, { name: 'x.pdf.jpg', data: Buffer.from('%PDF-1.4 fake') }]), filename: 'r.zip' },
    ]);
    const { job_id: id } = res.json();
    await waitFor(id, owner.auth);
    const csv = await t.app.inject({ url: `/api/v1/jobs/${id}/report.csv`, headers: owner.auth });
    expect(csv.statusCode).toBe(200);
    expect(csv.headers['content-type']).toMatch(/^text\/csv/);
    expect(csv.headers['content-disposition']).toContain(`job-${id}.csv`);
    const lines = csv.body.trim().split('\r\n');
    expect(lines[0]).toBe('index,entry_name,state,status,match_percentage,missing,extra,uncertain,detections,image_url,error_code,error_detail');
    // A name a spreadsheet would evaluate is defused.
    expect(lines[1]).toMatch(/^0,'=cmd\.jpg,done,discrepancy,[\d.]+,pliers; side_cutters,,,9,\/media\/previews\//);
    expect(lines[2]).toMatch(/^,x\.pdf\.jpg,skipped,.*,not_an_image,/);

    const json = await t.app.inject({ url: `/api/v1/jobs/${id}/report.json`, headers: owner.auth });
    expect(json.statusCode).toBe(200);
    expect(json.json()).toMatchObject({ job_id: id, state: 'completed', results: [{ entry_name: '=cmd.jpg', state: 'done' }], skipped: [{ reason: 'not_an_image' }] });
  });

  it('shows a job to its owner, storekeepers and admins only', async () => {
    const res = await submit(owner.auth, [{ field: 'images', data: photos[2]!, filename: 'c.jpg' }]);
    const { job_id: id } = res.json();
    await waitFor(id, owner.auth);
    for (const url of [`/api/v1/jobs/${id}`, `/api/v1/jobs/${id}/report.csv`, `/api/v1/jobs/${id}/report.json`, `/api/v1/jobs/${id}/events`]) {
      expect((await t.app.inject({ url, headers: other.auth })).statusCode, url).toBe(404);
      expect((await t.app.inject({ url, headers: storekeeper.auth })).statusCode, url).toBe(200);
    }
    expect((await t.app.inject({ method: 'DELETE', url: `/api/v1/jobs/${id}`, headers: other.auth })).statusCode).toBe(404);
    expect((await t.app.inject({ url: `/api/v1/jobs/${id}` })).statusCode).toBe(401);
    expect((await t.app.inject({ url: '/api/v1/jobs/not-a-uuid', headers: owner.auth })).statusCode).toBe(404);
    // Over: cancelling is a conflict.
    const cancel = await t.app.inject({ method: 'DELETE', url: `/api/v1/jobs/${id}`, headers: owner.auth });
    expect(cancel.statusCode).toBe(409);
    expect(cancel.json().code).toBe('job.finished');
  });

  it('cancels a running job; the same upload resubmitted while it runs is that job', async () => {
    delayMs = 150;
    try {
      const files = photos.map((data, i) => ({ field: 'images', data, filename: `p${i}.jpg` }));
      const first = await submit(owner.auth, files);
      expect(first.statusCode).toBe(202);
      const again = await submit(owner.auth, files);
      expect(again.json()).toMatchObject({ job_id: first.json().job_id, deduplicated: true });
      const id = first.json().job_id;
      await waitFor(id, owner.auth, ['running']);
      const cancel = await t.app.inject({ method: 'DELETE', url: `/api/v1/jobs/${id}`, headers: owner.auth });
      expect(cancel.statusCode, cancel.body).toBe(200);
      expect(cancel.json().state).toBe('cancelled');
      await new Promise((r) => setTimeout(r, 400));
      const job = (await t.app.inject({ url: `/api/v1/jobs/${id}`, headers: owner.auth })).json();
      expect(job.state).toBe('cancelled');
      expect(job.processed).toBeLessThan(6);
    } finally {
      delayMs = 0;
    }
  });

  it('keeps the entry order when the photos finish writing out of order', async () => {
    const media = t.deps.media;
    const realPut = media.put;
    // The first photos take longest to write, so the writes finish last to first.
    media.put = async (key, data, type) => {
      const index = Number(/_(\d+)\.jpg$/.exec(key)?.[1] ?? 0);
      await new Promise((r) => setTimeout(r, (6 - index) * 15));
      return realPut.call(media, key, data, type);
    };
    try {
      const res = await submit(owner.auth, [{ field: 'zip_file', data: archive(), filename: 'slow-disk.zip', type: 'application/zip' }], { confidence: 0.41 });
      expect(res.statusCode, res.body).toBe(202);
      const job = await waitFor(res.json().job_id, owner.auth);
      expect(job.results.map((r: { index: number; entry_name: string }) => [r.index, r.entry_name])).toEqual(
        photos.map((_, i) => [i, `shift/photo-${i}.jpg`]),
      );
      expect(job.results.map((r: { prediction: { comparison: { status: string } } }) => r.prediction.comparison.status)).toEqual(
        photos.map((_, i) => (i % 2 === 0 ? 'success' : 'discrepancy')),
      );
    } finally {
      media.put = realPut;
    }
  });

  it('a photo that cannot be stored: 503, no job, and every photo already written is removed', async () => {
    const media = t.deps.media;
    const realPut = media.put;
    const before = new Set(filesUnder(t.config.mediaDir));
    let calls = 0;
    let written = 0;
    media.put = async (key, data, type) => {
      calls++;
      if (/_3\.jpg$/.test(key)) throw Object.assign(new Error('no space left on device'), { code: 'ENOSPC' });
      await new Promise((r) => setTimeout(r, 20));
      await realPut.call(media, key, data, type);
      written++;
    };
    try {
      const res = await submit(owner.auth, [{ field: 'zip_file', data: archive(), filename: 'full-disk.zip', type: 'application/zip' }], { confidence: 0.42 });
      expect(res.statusCode, res.body).toBe(503);
      expect(res.headers['content-type']).toContain('application/problem+json');
      expect(res.headers['retry-after']).toBe('5');
      expect(res.json()).toMatchObject({ code: 'media.write_failed' });
      expect(res.json().detail).toMatch(/ENOSPC.*no job was created/);
    } finally {
      media.put = realPut;
    }
    expect(written).toBeGreaterThan(0); // photos were written before the failure…
    expect(calls).toBeLessThan(6); // …reading the archive stopped at it…
    expect(filesUnder(t.config.mediaDir).filter((f) => !before.has(f))).toEqual([]); // …and nothing written is left
    const jobs = await t.deps.db.execute(sql`select count(*)::int as n from jobs where archive_name = 'full-disk.zip'`);
    expect((jobs as unknown as { rows: Array<{ n: number }> }).rows[0]).toEqual({ n: 0 });
  });

  it('labels photos uniquely when their names repeat, even names that look like earlier labels', async () => {
    const res = await submit(owner.auth, [
      { field: 'images', data: photos[0]!, filename: 'a.jpg' },
      { field: 'images', data: photos[1]!, filename: 'a.jpg' },
      { field: 'images', data: photos[2]!, filename: 'a.jpg (2)' },
      { field: 'images', data: Buffer.from('not a photo'), filename: 'a.jpg' },
    ]);
    expect(res.statusCode, res.body).toBe(202);
    expect(res.json().skipped).toEqual([expect.objectContaining({ entry_name: 'a.jpg (3)', reason: 'not_an_image' })]);
    const job = await waitFor(res.json().job_id, owner.auth);
    expect(job.state).toBe('completed');
    expect(job.results.map((r: { entry_name: string }) => r.entry_name)).toEqual(['a.jpg', 'a.jpg (2)', 'a.jpg (2) (2)']);
  });

  it('cleans control characters out of uploaded file names, as out of ZIP entry names', async () => {
    const res = await submit(owner.auth, [
      { field: 'images', data: photos[3]!, filename: 'nul\u0000.jpg' },
      { field: 'images', data: Buffer.from('not a photo'), filename: 'bad\u0001\u0000.jpg' },
    ]);
    expect(res.statusCode, res.body).toBe(202);
    expect(res.json().skipped).toEqual([expect.objectContaining({ entry_name: 'bad??.jpg', reason: 'not_an_image' })]);
    const job = await waitFor(res.json().job_id, owner.auth);
    expect(job.results.map((r: { entry_name: string }) => r.entry_name)).toEqual(['nul?.jpg']);
  });

  it('stops following a job when the client leaves before the first event', async () => {
    // A stand-in for watch(): its first event waits until the client has gone, then it
    // polls (as the real one does) until its signal is aborted.
    const service = t.deps.jobs.service;
    const realWatch = service.watch;
    let entered!: () => void;
    const inWatch = new Promise<void>((r) => (entered = r));
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let signal: AbortSignal | null = null;
    let polls = 0;
    let finished = false;
    let giveUp = false;
    service.watch = async function* (_viewer, _id, options): AsyncGenerator<JobEvent> {
      signal = options.signal;
      try {
        entered();
        await gate;
        const progress = { state: 'running', total: 1, processed: 0, failed: 0 } as const;
        yield { event: 'progress', data: progress };
        while (!options.signal.aborted && !giveUp) {
          polls++;
          await new Promise((r) => setTimeout(r, 10));
          yield { event: 'progress', data: progress };
        }
      } finally {
        finished = true;
      }
    };
    await t.app.listen({ port: 0, host: '127.0.0.1' });
    try {
      const { port } = t.app.server.address() as AddressInfo;
      const client = http.get(`http://127.0.0.1:${port}/api/v1/jobs/${crypto.randomUUID()}/events`, { headers: owner.auth });
      client.on('error', () => undefined);
      await inWatch;
      client.destroy();
      // The server has seen the client go before the first event exists.
      const connections = () => new Promise<number>((r) => t.app.server.getConnections((_e, n) => r(n)));
      for (let i = 0; i < 200 && (await connections()) > 0; i++) await new Promise((r) => setTimeout(r, 10));
      release();
      for (let i = 0; i < 200 && !finished; i++) await new Promise((r) => setTimeout(r, 10));
      expect(signal!.aborted).toBe(true);
      expect(finished).toBe(true);
      expect(polls).toBe(0);
    } finally {
      giveUp = true;
      release();
      service.watch = realWatch;
    }
  });

  it('refuses bad submissions with clear problems', async () => {
    const none = await submit(owner.auth, []);
    expect(none.statusCode).toBe(422);
    const both = await submit(owner.auth, [{ field: 'zip_file', data: archive(), filename: 'a.zip' }, { field: 'images', data: photos[0]! }]);
    expect(both.statusCode).toBe(422);
    const noImages = await submit(owner.auth, [{ field: 'zip_file', data: buildZip([{ name: 'a.txt', data: Buffer.from('x') }]), filename: 'a.zip' }]);
    // Not a value out of range but an upload without photos: 400 and the original's words.
    expect(noImages.statusCode).toBe(400);
    expect(noImages.json()).toMatchObject({ code: 'batch.no_images', detail: 'В ZIP-архиве не найдено изображений', skipped: [{ entry_name: 'a.txt', reason: 'not_an_image' }] });
    const unknownKit = await submit(owner.auth, [{ field: 'images', data: photos[0]! }], { toolkit_id: 99999 });
    expect(unknownKit.statusCode).toBe(404);
    const corrupt = await submit(owner.auth, [{ field: 'zip_file', data: Buffer.from('PK\u0003\u0004 definitely not a zip'), filename: 'a.zip' }]);
    expect(corrupt.statusCode).toBe(400);
    expect(corrupt.json()).toMatchObject({ code: 'zip.corrupt', detail: 'Некорректный ZIP-архив' });
    const notZip = await submit(owner.auth, [{ field: 'zip_file', data: Buffer.from('not a zip at all'), filename: 'photos.rar' }]);
    expect(notZip.statusCode).toBe(400);
    expect(notZip.json()).toMatchObject({ code: 'zip.corrupt', detail: 'Файл должен быть ZIP-архивом' });
  });
});

describe('jobs API with a segment model', () => {
  let t: TestApp;
  let owner: User;
  let kitId: number;

  beforeAll(async () => {
    const scripted = createScriptedDetector(() => FULL_KIT);
    const detector = { ...scripted, info: { ...scripted.info, task: 'segment' as const } };
    t = await buildTestApp({ overrides: { detector }, env: { RESULT_CACHE_TTL: '0' } });
    owner = await createUser(t, await t.login(), 'engineer', 'segment-owner');
    kitId = (await t.app.inject({ url: '/api/v1/toolkits', headers: owner.auth })).json().items[0].id;
  });
  afterAll(() => t?.close());

  it('draws the previews at once and removes the input photos when the job is over', async () => {
    const files = await Promise.all([0, 1].map(async (i) => ({ field: 'images', data: await solidJpeg([60 + i * 90, 90, 60], 160, 120), filename: `s${i}.jpg` })));
    const body = await multipartBody({ toolkit_id: kitId }, files);
    // The uploaded photos as they are stored (jobs/…).
    const media = t.deps.media;
    const realPut = media.put;
    const inputs: string[] = [];
    media.put = async (key, data, type) => {
      if (key.startsWith('jobs/')) inputs.push(key);
      return realPut.call(media, key, data, type);
    };
    let res;
    try {
      res = await t.app.inject({ method: 'POST', url: '/api/v1/jobs', headers: { ...owner.auth, ...body.headers }, payload: body.payload });
    } finally {
      media.put = realPut;
    }
    expect(res.statusCode, res.body).toBe(202);
    const id = res.json().job_id as string;
    expect(inputs).toHaveLength(2);

    // Done once the job is over and its clean-up has run (no item refers to a stored input).
    for (let i = 0; i < 200; i++) {
      const { job, items } = await t.deps.jobs.service.report({ id: owner.id, role: 'engineer' }, id);
      if (job.state === 'completed' && items.every((item) => item.sourceKey === null)) break;
      await new Promise((r) => setTimeout(r, 25));
    }
    const job = (await t.app.inject({ url: `/api/v1/jobs/${id}`, headers: owner.auth })).json() as { state: string; results: Array<{ prediction: { image_url: string } }> };
    expect(job.state).toBe('completed');
    // The previews were drawn at once: their images exist without being opened.
    for (const r of job.results) expect(fs.existsSync(path.join(t.config.mediaDir, mediaKey(r.prediction.image_url)))).toBe(true);
    // Nothing refers to the uploaded photos any more, so none is left behind.
    for (const key of inputs) expect(await media.exists(key), key).toBe(false);
    expect(filesUnder(path.join(t.config.mediaDir, 'jobs'))).toEqual([]);
    const rows = await t.deps.db.execute(sql`select count(*)::int as n from predictions where job_id = ${id} and original_image_key is not null`);
    expect((rows as unknown as { rows: Array<{ n: number }> }).rows[0]).toEqual({ n: 0 });
  });
});

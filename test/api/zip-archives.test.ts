/**
 * Hostile and broken ZIP archives: each gets its documented answer within seconds,
 * nothing is written outside the media store, and the server keeps serving.
 *
 *   zip bomb (1 GB of zeros)            → entry skipped: too_large (declared size) / compression_ratio
 *   header lying about its size         → entry skipped: too_large (inflates past the declared size)
 *   10,000 entries                      → 422 zip.too_many_entries (whole archive)
 *   ../../x.jpg, /etc/x.jpg, C:/x.jpg   → entry skipped: path_traversal / absolute_path
 *   symlink, directory, nested .zip     → entry skipped: symlink / directory / nested_archive
 *   PDF named .jpg                      → entry skipped: not_an_image (bytes sniffed)
 *   truncated JPEG                      → that image's result is a 422 image.corrupt problem
 *   corrupt or truncated archive        → 400 zip.corrupt (the original's «Некорректный ZIP-архив»)
 *   no photo left in the archive        → 400 batch.no_images («В ZIP-архиве не найдено изображений»)
 */
import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../src/config/index.js';
import { readZipImages, scanZip, ZipError, type ZipLimits } from '../../src/media/zip-reader.js';
import { createOnnxDetector } from '../../src/ml/onnx-detector.js';
import { buildTestApp, type TestApp } from '../helpers/app.js';
import { tempDir } from '../helpers/config.js';
import { multipartBody } from '../helpers/multipart.js';
import { createUser } from '../helpers/users.js';
import { buildZip, writeZerosBomb } from '../helpers/zip-builder.js';

const LIMITS: ZipLimits = { maxEntries: 1000, maxEntryBytes: 25 * 1024 * 1024, maxTotalBytes: 2 * 1024 ** 3, maxRatio: 100 };
const GB = 1024 ** 3;

async function jpeg(width = 320, height = 240): Promise<Buffer> {
  return sharp({ create: { width, height, channels: 3, background: '#808080', noise: { type: 'gaussian', mean: 128, sigma: 40 } } })
    .jpeg()
    .toBuffer();
}

/** Every file under `dir`, relative. */
function listFiles(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((d) => d.isFile() || d.isSymbolicLink())
    .map((d) => path.relative(dir, path.join(d.parentPath, d.name)));
}

describe('readZipImages', () => {
  let tmp: ReturnType<typeof tempDir>;
  let photo: Buffer;
  beforeAll(async () => {
    tmp = tempDir('toolcontrol-zip-');
    photo = await jpeg();
  });
  afterAll(() => tmp.cleanup());

  const read = async (name: string, data: Buffer, limits = LIMITS) => {
    const file = path.join(tmp.dir, name);
    fs.writeFileSync(file, data);
    const images: Array<{ name: string; size: number; ext: string }> = [];
    const result = await readZipImages(file, limits, async (img) => {
      images.push({ name: img.name, size: img.data.length, ext: img.ext });
    });
    return { images, skipped: result.skipped };
  };

  it('skips unsafe and non-image entries and lists each with its reason', async () => {
    const nested = buildZip([{ name: 'inner.jpg', data: photo }]);
    const { images, skipped } = await read(
      'mixed.zip',
      buildZip([
        { name: 'ok/one.jpg', data: photo },
        { name: '../../x.jpg', data: photo },
        { name: '/etc/x.jpg', data: photo },
        { name: 'C:/Windows/x.jpg', data: photo },
        { name: 'ok/..\\..\\y.jpg', data: photo },
        { name: 'link.jpg', data: Buffer.from('/etc/passwd'), mode: 0o120777 },
        { name: 'dir/', mode: 0o040755 },
        { name: 'inner.zip', data: nested },
        { name: 'disguised.jpg', data: nested },
        { name: 'report.jpg', data: Buffer.from('%PDF-1.7\n1 0 obj <<>> endobj\n%%EOF') },
        { name: 'ok/one.jpg', data: photo },
        { name: 'ok/two.JPG', data: photo, method: 'store' },
      ]),
    );
    expect(images).toEqual([
      { name: 'ok/one.jpg', size: photo.length, ext: 'jpg' },
      { name: 'ok/two.JPG', size: photo.length, ext: 'jpg' },
    ]);
    expect(skipped.map((s) => [s.entry_name, s.reason])).toEqual([
      ['../../x.jpg', 'path_traversal'],
      ['/etc/x.jpg', 'absolute_path'],
      ['C:/Windows/x.jpg', 'absolute_path'],
      ['ok/../../y.jpg', 'path_traversal'], // backslashes read as separators, as unzip tools do
      ['link.jpg', 'symlink'],
      ['dir/', 'directory'],
      ['inner.zip', 'nested_archive'],
      ['disguised.jpg', 'nested_archive'],
      ['report.jpg', 'not_an_image'],
      ['ok/one.jpg', 'duplicate_name'],
    ]);
    for (const s of skipped) expect(s.detail.length).toBeGreaterThan(5);
  });

  it('labels names with control characters (NUL too) as «?», keeps names that differ only in them apart, and skips file-system metadata by name', async () => {
    const appleDouble = Buffer.from([0x00, 0x05, 0x16, 0x07, 0x00, 0x02, 0x00, 0x00]);
    const zip = buildZip([
      { name: 'c\u0001d.jpg', data: photo },
      { name: 'c\u0002d.jpg', data: photo },
      { name: 'a\u0000b.jpg', data: photo },
      { name: 'n\u0000ote.jpg', data: Buffer.from('not a photo') },
      { name: '__MACOSX/ok/._one.jpg', data: appleDouble },
      { name: 'ok/._two.jpg', data: appleDouble },
      { name: 'ok/.DS_Store', data: Buffer.from('\0\0\0\x01Bud1') },
      { name: 'Thumbs.db', data: Buffer.from('thumbs') },
    ]);
    const { images, skipped } = await read('odd-names.zip', zip);
    expect(images.map((i) => i.name)).toEqual(['c?d.jpg', 'c?d.jpg (2)', 'a?b.jpg']);
    expect(skipped.map((s) => [s.entry_name, s.reason])).toEqual([
      ['n?ote.jpg', 'not_an_image'],
      ['__MACOSX/ok/._one.jpg', 'not_an_image'],
      ['ok/._two.jpg', 'not_an_image'],
      ['ok/.DS_Store', 'not_an_image'],
      ['Thumbs.db', 'not_an_image'],
    ]);
    // What counts towards a synchronous batch: the metadata files are known from their names.
    const file = path.join(tmp.dir, 'odd-names.zip');
    expect((await scanZip(file, LIMITS)).candidates).toBe(4);
  });

  it('refuses an archive with more entries than allowed, from its central directory, at once', async () => {
    const entries = Array.from({ length: 10_000 }, (_, i) => ({ name: `e${i}.txt`, data: Buffer.from('x'), method: 'store' as const }));
    const started = performance.now();
    const err = await read('many.zip', buildZip(entries)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ZipError);
    expect(err).toMatchObject({ status: 422, code: 'zip.too_many_entries', extra: { entries: 10_000, max_entries: 1000 } });
    expect(performance.now() - started).toBeLessThan(2000);
  });

  it('skips a 1 GB zip bomb and an entry whose header lies about its size, without inflating them', async () => {
    const bomb = path.join(tmp.dir, 'bomb.zip');
    await writeZerosBomb(bomb, { name: 'bomb.jpg', bytes: GB });
    const liar = path.join(tmp.dir, 'liar.zip');
    await writeZerosBomb(liar, { name: 'small.jpg', bytes: GB, declaredSize: 1000 });
    const ratio = path.join(tmp.dir, 'ratio.zip');
    await writeZerosBomb(ratio, { name: 'ratio.jpg', bytes: 20 * 1024 * 1024 });

    const started = performance.now();
    const rss = process.memoryUsage().rss;
    const run = (file: string) => readZipImages(file, LIMITS, async () => expect.fail('no image expected'));
    expect((await run(bomb)).skipped).toEqual([{ entry_name: 'bomb.jpg', reason: 'too_large', detail: expect.stringContaining('1073741824 bytes') }]);
    expect((await run(liar)).skipped).toEqual([{ entry_name: 'small.jpg', reason: 'too_large', detail: expect.stringContaining('more bytes than the archive declares') }]);
    expect((await run(ratio)).skipped).toEqual([{ entry_name: 'ratio.jpg', reason: 'compression_ratio', detail: expect.stringContaining('zip bomb') }]);
    expect(performance.now() - started).toBeLessThan(3000);
    expect(process.memoryUsage().rss - rss).toBeLessThan(100 * 1024 * 1024);
  });

  it('bounds what the whole archive inflates to: many entries under 1 MiB of zeros behind a JPEG signature', async () => {
    // Each entry is below the per-entry ratio check (1 MiB) and deflates to about 1 KB.
    const zeros = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), Buffer.alloc(1024 * 1024 - 1 - 4)]);
    const zip = buildZip(Array.from({ length: 300 }, (_, i) => ({ name: `zeros-${i}.jpg`, data: zeros })));
    expect(zip.length).toBeLessThan(1024 * 1024);
    let inflated = 0;
    const file = path.join(tmp.dir, 'small-bombs.zip');
    fs.writeFileSync(file, zip);
    const { images, skipped } = await readZipImages(file, LIMITS, async (img) => {
      inflated += img.data.length;
    });
    // Never more than maxRatio × the archive, or a small floor for small archives (16 MiB).
    expect(inflated).toBeLessThanOrEqual(Math.max(LIMITS.maxRatio * zip.length, 16 * 1024 * 1024));
    expect(images + skipped.length).toBe(300);
    expect(skipped.length).toBeGreaterThan(250);
    expect(new Set(skipped.map((s) => s.reason))).toEqual(new Set(['compression_ratio']));
    expect(skipped[0]!.detail).toMatch(/zip bomb/);
  });

  it('lets an ordinary archive of photos through, even with a low ratio limit', async () => {
    const photos = await Promise.all(Array.from({ length: 8 }, (_, i) => jpeg(320 + i * 8, 240)));
    const { images, skipped } = await read(
      'photos.zip',
      buildZip(photos.map((data, i) => ({ name: `${i}.jpg`, data }))),
      { ...LIMITS, maxRatio: 2 },
    );
    expect(images).toHaveLength(8);
    expect(skipped).toEqual([]);
  });

  it('stops at the total uncompressed size', async () => {
    const { images, skipped } = await read(
      'total.zip',
      buildZip([1, 2, 3].map((i) => ({ name: `${i}.jpg`, data: photo }))),
      { ...LIMITS, maxTotalBytes: photo.length * 2 },
    );
    expect(images.map((i) => i.name)).toEqual(['1.jpg', '2.jpg']);
    expect(skipped).toEqual([{ entry_name: '3.jpg', reason: 'total_size_limit', detail: expect.any(String) }]);
  });

  it('answers 400 zip.corrupt for files that are not readable ZIPs', async () => {
    const good = buildZip([{ name: 'a.jpg', data: photo }]);
    for (const [name, data] of [
      ['empty.zip', Buffer.alloc(0)],
      ['text.zip', Buffer.from('hello, this is not an archive at all, just some text'.repeat(10))],
      ['truncated.zip', good.subarray(0, good.length - 30)],
      ['jpeg.zip', photo],
    ] as const) {
      const err = await read(name, data).catch((e: unknown) => e);
      expect(err, name).toBeInstanceOf(ZipError);
      expect(err, name).toMatchObject({ status: 400, code: 'zip.corrupt', message: 'Некорректный ZIP-архив' });
    }
  });
});

describe('ZIP archives through the API', () => {
  let t: TestApp;
  let user: Awaited<ReturnType<typeof createUser>>;
  let kitId: number;
  let workDir: ReturnType<typeof tempDir>;
  let bombZip: Buffer;

  beforeAll(async () => {
    workDir = tempDir('toolcontrol-zip-api-');
    // The real pipeline (decode, letterbox, onnxruntime) on a tiny constant-output model.
    const detector = await createOnnxDetector({ modelPath: path.join(PROJECT_ROOT, 'test/fixtures/onnx/detect.onnx') });
    t = await buildTestApp({ overrides: { detector } });
    user = await createUser(t, await t.login(), 'engineer', 'zip-user');
    kitId = (await t.app.inject({ url: '/api/v1/toolkits', headers: user.auth })).json().items[0].id;
    const bombFile = path.join(workDir.dir, 'bomb.zip');
    await writeZerosBomb(bombFile, { name: 'zeros.jpg', bytes: GB });
    bombZip = fs.readFileSync(bombFile); // ~5 MB compressed
  });
  afterAll(async () => {
    await t?.close();
    workDir?.cleanup();
  });

  const post = async (url: string, zip: Buffer) => {
    const body = await multipartBody({ toolkit_id: kitId }, [{ field: 'zip_file', data: zip, filename: 'upload.zip', type: 'application/zip' }]);
    const started = performance.now();
    const res = await t.app.inject({ method: 'POST', url, headers: { ...user.auth, ...body.headers }, payload: body.payload });
    return { res, ms: performance.now() - started };
  };

  it('answers every hostile archive within seconds, writes nothing outside the media store, keeps serving', async () => {
    const photo = await jpeg();
    const truncated = photo.subarray(0, Math.floor(photo.length / 2));
    const hostile = buildZip([
      { name: 'good.jpg', data: photo },
      { name: '../../x.jpg', data: photo },
      { name: '/etc/x.jpg', data: photo },
      { name: 'invoice.jpg', data: Buffer.from('%PDF-1.4\n%âãÏÓ\n1 0 obj\n<<>>\nendobj\ntrailer\n<<>>\n%%EOF') },
      { name: 'truncated.jpg', data: truncated },
    ]);

    const { res, ms } = await post('/predict/zip', hostile);
    expect(res.statusCode, res.body).toBe(200);
    expect(ms).toBeLessThan(5000);
    const body = res.json();
    expect(body.results.map((r: { filename: string }) => r.filename)).toEqual(['good.jpg', 'truncated.jpg']);
    expect(body.results[0].prediction.image_url).toMatch(/^\/media\/previews\//);
    expect(body.results[1]).toMatchObject({ prediction: null, error: { status: 422, code: 'image.corrupt' } });
    expect(body.skipped.map((s: { entry_name: string; reason: string }) => `${s.entry_name}:${s.reason}`)).toEqual([
      '../../x.jpg:path_traversal',
      '/etc/x.jpg:absolute_path',
      'invoice.jpg:not_an_image',
    ]);
    expect(body.summary).toMatchObject({ images: 2, processed: 1, failed: 1, skipped: 3 });

    // The same archive as a job: the hostile entries are listed at submission.
    const job = await post('/api/v1/jobs', hostile);
    expect(job.res.statusCode, job.res.body).toBe(202);
    expect(job.res.json()).toMatchObject({ total: 2 });

    // A NUL in a name (which PostgreSQL refuses in text and jsonb) is cleaned before the job is written.
    const nul = await post('/api/v1/jobs', buildZip([{ name: 'ok.jpg', data: photo }, { name: 'a\u0000b.jpg', data: Buffer.from('not a photo') }]));
    expect(nul.res.statusCode, nul.res.body).toBe(202);
    expect(nul.res.json().skipped).toEqual([expect.objectContaining({ entry_name: 'a?b.jpg', reason: 'not_an_image' })]);

    const bomb = await post('/api/v1/jobs', bombZip);
    expect(bomb.ms).toBeLessThan(5000);
    expect(bomb.res.statusCode).toBe(400);
    expect(bomb.res.json()).toMatchObject({
      code: 'batch.no_images',
      detail: 'В ZIP-архиве не найдено изображений',
      skipped: [{ entry_name: 'zeros.jpg', reason: 'too_large' }],
    });
    // The synchronous route too, as the original's /predict/zip: no photo left in the archive is a 400.
    const bombSync = await post('/predict/zip', bombZip);
    expect(bombSync.res.statusCode).toBe(400);
    expect(bombSync.res.json()).toMatchObject({
      code: 'batch.no_images',
      detail: 'В ZIP-архиве не найдено изображений',
      skipped: [expect.objectContaining({ reason: 'too_large' })],
    });

    const many = buildZip(Array.from({ length: 10_000 }, (_, i) => ({ name: `${i}.jpg`, data: Buffer.from([i & 255]), method: 'store' as const })));
    for (const url of ['/predict/zip', '/api/v1/jobs']) {
      const r = await post(url, many);
      expect(r.res.statusCode, url).toBe(422);
      expect(r.res.json().code).toBe('zip.too_many_entries');
      expect(r.ms).toBeLessThan(5000);
    }

    for (const url of ['/predict/zip', '/api/v1/jobs']) {
      const r = await post(url, Buffer.from('this is not a zip file'));
      expect(r.res.statusCode, url).toBe(400);
      expect(r.res.json()).toMatchObject({ code: 'zip.corrupt', detail: 'Некорректный ZIP-архив', reason: expect.stringContaining('cannot be read as a ZIP') });
    }

    // Nothing escaped: no x.jpg above the data folder or in /etc, nothing but media (and the empty spool) in DATA_DIR.
    const dataDir = t.config.dataDir;
    expect(fs.existsSync(path.resolve(t.config.mediaDir, '../../x.jpg'))).toBe(false);
    expect(fs.existsSync(path.resolve(dataDir, '../../x.jpg'))).toBe(false);
    expect(fs.existsSync(path.resolve(dataDir, '../x.jpg'))).toBe(false);
    expect(fs.existsSync('/etc/x.jpg')).toBe(false);
    const outside = listFiles(dataDir).filter((f) => !f.startsWith('media/') && f !== 'jwt-secret');
    expect(outside).toEqual([]);
    expect(listFiles(path.join(dataDir, 'tmp'))).toEqual([]);
    expect(listFiles(t.config.mediaDir).every((f) => /^(previews|jobs)\/\d{4}\/\d{2}\/[0-9a-f-]{36}_[A-Za-z0-9._-]+$/.test(f))).toBe(true);

    const health = await t.app.inject({ url: '/base/health' });
    expect(health.statusCode).toBe(200);
  });
});

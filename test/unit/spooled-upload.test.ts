import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerMultipart } from '../../src/api/plugins/multipart.js';
import { readSpooledUpload } from '../../src/api/plugins/spooled-upload.js';
import { tempDir } from '../helpers/config.js';
import { multipartBody } from '../helpers/multipart.js';

const MiB = 1024 * 1024;

describe('spooled uploads', () => {
  const tmp = tempDir('toolcontrol-spool-');
  const spoolDir = path.join(tmp.dir, 'tmp');
  let app: FastifyInstance;

  beforeAll(async () => {
    app = Fastify();
    await registerMultipart(app, { maxFileBytes: 25 * MiB, maxFiles: 1000 });
    app.post('/upload', async (request) => {
      const upload = await readSpooledUpload(request, Type.Object({}), {
        spoolDir,
        maxBytes: { images: 25 * MiB },
        maxFiles: 1000,
        maxTotalBytes: 512 * MiB,
      });
      try {
        return await Promise.all(
          upload.files.map(async (f) => ({
            size: f.size,
            spooled: f.path !== null,
            intact: crypto.createHash('sha256').update(await f.read()).digest('hex') === f.sha256,
          })),
        );
      } finally {
        await upload.cleanup();
      }
    });
  });
  afterAll(async () => {
    await app.close();
    tmp.cleanup();
  });

  it('holds a few MiB of small files in memory per request and spools every further one', async () => {
    // 20 files just under the 1 MiB per-file threshold: ~20 MiB if all were held.
    const files = Array.from({ length: 20 }, (_, i) => ({ field: 'images', data: crypto.randomBytes(MiB - 1024), filename: `${i}.jpg` }));
    const body = await multipartBody({}, files);
    const res = await app.inject({ method: 'POST', url: '/upload', headers: body.headers, payload: body.payload });
    expect(res.statusCode, res.body).toBe(200);
    const result = res.json() as Array<{ size: number; spooled: boolean; intact: boolean }>;
    expect(result).toHaveLength(20);
    expect(result.every((f) => f.intact && f.size === MiB - 1024)).toBe(true);
    const held = result.filter((f) => !f.spooled).reduce((sum, f) => sum + f.size, 0);
    expect(held).toBeGreaterThan(0);
    expect(held).toBeLessThanOrEqual(8 * MiB);
    // Once spooling starts, every later file is spooled.
    const firstSpooled = result.findIndex((f) => f.spooled);
    expect(result.slice(firstSpooled).every((f) => f.spooled)).toBe(true);
    expect(fs.readdirSync(spoolDir)).toEqual([]);
  });
});

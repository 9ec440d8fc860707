/**
 * The seed team's own React frontend against toolcontrol: its calls, as its
 * src/services/issuanceService.ts and mlService.ts make them, to a real server process
 * (`npm start`, default model) with anonymous previews (PREVIEW_AUTH=none) and CORS for
 * its dev server (http://localhost:3000). It has no login: no token is ever sent.
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderScene } from '../../src/synth/scene.js';
import { tempDir } from '../helpers/config.js';
import { startServer, type ServerProcess } from '../helpers/server-process.js';
import { buildZip } from '../helpers/zip-builder.js';

const FRONTEND = 'http://localhost:3000';

describe('the seed frontend against toolcontrol (PREVIEW_AUTH=none)', () => {
  const tmp = tempDir();
  let server: ServerProcess;
  let full: Buffer;
  let withoutPliers: Buffer;

  const form = (fields: Record<string, string>, files: Array<[string, Buffer, string]>) => {
    const body = new FormData();
    for (const [name, file, filename] of files) body.append(name, new Blob([new Uint8Array(file)], { type: filename.endsWith('.zip') ? 'application/zip' : 'image/jpeg' }), filename);
    for (const [k, v] of Object.entries(fields)) body.append(k, v);
    return body;
  };
  const post = (url: string, body: FormData) => fetch(`${server.baseUrl}${url}`, { method: 'POST', body, headers: { accept: 'application/json', origin: FRONTEND } });

  /** Every field of the original PredictResponse / BatchImageResult, typed as the original declares it. */
  function expectSeedFields(r: Record<string, unknown>) {
    expect(Array.isArray(r.found_tools)).toBe(true);
    for (const tool of r.found_tools as Array<Record<string, unknown>>) {
      expect(typeof tool.id).toBe('number');
      expect(typeof tool.name).toBe('string');
      expect(typeof tool.serial_number).toBe('string');
      expect(typeof tool.category).toBe('string');
    }
    expect(typeof r.hand_check).toBe('boolean');
    expect(r.processed_image_url).toEqual(expect.stringMatching(/^\/media\//));
    expect(Array.isArray(r.ml_predictions) && (r.ml_predictions as unknown[]).every((n) => Number.isInteger(n))).toBe(true);
    expect(typeof r.inference_time_ms).toBe('number');
  }

  /** The frontend shows the annotated photo as <img src={base + processed_image_url}>: no header, no token. */
  async function expectPlainImage(url: string) {
    const res = await fetch(`${server.baseUrl}${url}`);
    expect(res.status, url).toBe(200);
    expect(res.headers.get('content-type')).toContain('image/jpeg');
    const bytes = Buffer.from(await res.arrayBuffer());
    expect(bytes.subarray(0, 3).toString('hex')).toBe('ffd8ff');
  }

  beforeAll(async () => {
    server = await startServer(
      { DATA_DIR: path.join(tmp.dir, 'data'), ADMIN_PASSWORD: 'seed-frontend-admin', LOG_LEVEL: 'warn', PREVIEW_AUTH: 'none', CORS_ORIGINS: FRONTEND, RESULT_CACHE_TTL: '0' },
      { timeoutMs: 90_000 },
    );
    // Seeds the default model gets right (as in the recognition tests).
    full = (await renderScene({ seed: 910_001, kit: 'full' })).jpeg;
    withoutPliers = (await renderScene({ seed: 910_002, kit: 'full', without: ['pliers'] })).jpeg;
  }, 150_000);

  afterAll(async () => {
    await server?.stop();
    tmp.cleanup();
  });

  it('allows the CORS preflight from the frontend origin', async () => {
    const res = await fetch(`${server.baseUrl}/predict/`, {
      method: 'OPTIONS',
      headers: { origin: FRONTEND, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' },
    });
    expect(res.status).toBeLessThan(300);
    expect(res.headers.get('access-control-allow-origin')).toBe(FRONTEND);
    expect(res.headers.get('access-control-allow-methods') ?? '').toMatch(/POST/);
  });

  it('POST /predict/ with no token, confidence 0.1 and 0.5: 200 with every field of the original, the image as a plain <img>', async () => {
    for (const confidence of ['0.1', '0.5']) {
      const res = await post('/predict/', form({ toolkit_id: '1', confidence }, [['image', full, 'kit.jpg']]));
      expect(res.status, await res.clone().text()).toBe(200);
      expect(res.headers.get('access-control-allow-origin')).toBe(FRONTEND);
      const body = (await res.json()) as Record<string, unknown>;
      expectSeedFields(body);
      await expectPlainImage(body.processed_image_url as string);
      if (confidence === '0.5') {
        expect(body.hand_check).toBe(false);
        expect((body.found_tools as unknown[]).length).toBe(11);
        expect((body.ml_predictions as unknown[]).length).toBe(11);
      }
    }
    const missing = (await (await post('/predict/', form({ toolkit_id: '1', confidence: '0.5' }, [['image', withoutPliers, 'kit.jpg']]))).json()) as Record<string, unknown>;
    expect(missing.hand_check).toBe(true);
    expect((missing.found_tools as Array<{ name: string }>).map((t) => t.name)).not.toContain('Пассатижи');
  });

  it('POST /predict/batch and /predict/zip answer in the original BatchPredictResponse shape', async () => {
    const batch = await post('/predict/batch', form({ toolkit_id: '1', confidence: '0.5' }, [['images', full, 'a.jpg'], ['images', withoutPliers, 'b.jpg']]));
    expect(batch.status).toBe(200);
    const b = (await batch.json()) as { successful_images: number; failed_images: number; results: Array<Record<string, unknown>> };
    expect([b.successful_images, b.failed_images]).toEqual([2, 0]);
    expect(b.results.map((r) => r.filename)).toEqual(['a.jpg', 'b.jpg']);
    for (const r of b.results) {
      expect(r.success).toBe(true);
      expect(r.error_message).toBeNull();
      expectSeedFields(r);
    }
    await expectPlainImage(b.results[1]!.processed_image_url as string);

    const zip = buildZip([{ name: 'one.jpg', data: full }, { name: 'two.jpg', data: withoutPliers }]);
    const zipped = await post('/predict/zip', form({ toolkit_id: '1', confidence: '0.5' }, [['zip_file', zip, 'photos.zip']]));
    expect(zipped.status).toBe(200);
    const z = (await zipped.json()) as typeof b;
    expect([z.successful_images, z.failed_images]).toEqual([2, 0]);
    for (const r of z.results) expectSeedFields(r);
  });

  it('GET /base/health in the original shape, the model by its file name', async () => {
    const res = await fetch(`${server.baseUrl}/base/health`, { headers: { origin: FRONTEND } });
    expect(res.status).toBe(200);
    const body = await res.json();
    expect(body.services).toEqual({ postgresql: 'connected', redis: 'not_configured' });
    expect(body.model.path).toBe('toolcontrol-yolo.onnx');
  });

  it('still needs a token for operations, history and jobs', async () => {
    for (const [method, url] of [['GET', '/api/v1/history'], ['GET', '/api/v1/toolkits'], ['POST', '/api/v1/operations'], ['POST', '/api/v1/jobs']] as const) {
      const res = await fetch(`${server.baseUrl}${url}`, { method, headers: { origin: FRONTEND } });
      expect(res.status, `${method} ${url}`).toBe(401);
    }
  });
});

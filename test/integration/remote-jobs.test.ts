/**
 * A job running on remote inference when the v2 server dies mid-job: the job stays
 * running with nothing failed (items are retried, none is marked done without a result)
 * and completes, every item done, once the server is back.
 */
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRemoteDetector } from '../../src/ml/remote-detector.js';
import { buildTestApp, type TestApp } from '../helpers/app.js';
import { silentLogger } from '../helpers/databases.js';
import { multipartBody } from '../helpers/multipart.js';
import { startV2Server, type V2Server } from '../helpers/remote-v2-server.js';

const MODEL = fileURLToPath(new URL('../fixtures/onnx/detect.onnx', import.meta.url));
const IMAGES = 6;

describe('a job on remote inference while the server goes away', () => {
  let v2: V2Server;
  let t: TestApp;
  let auth: Record<string, string>;
  let kitId: number;

  beforeAll(async () => {
    v2 = await startV2Server({ modelPath: MODEL, modelName: 'toolcontrol-yolo' });
    const detector = await createRemoteDetector({
      urls: [v2.url],
      modelName: 'toolcontrol-yolo',
      timeoutMs: 2_000,
      backoffMs: 100,
      localModelPath: MODEL,
      probeIntervalMs: 0,
      logger: silentLogger,
    });
    t = await buildTestApp({ overrides: { detector }, env: { JOB_CONCURRENCY: '1', RESULT_CACHE_TTL: '0' } });
    auth = { authorization: `Bearer ${await t.login()}` };
    kitId = (await t.app.inject({ url: '/api/v1/toolkits', headers: auth })).json().items[0].id;
  });
  afterAll(async () => {
    await t?.close();
    await v2?.close();
  });

  const job = async (id: string) => (await t.app.inject({ url: `/api/v1/jobs/${id}`, headers: auth })).json();

  it('stays pending while the server is down and completes once it is back', async () => {
    const files = await Promise.all(
      Array.from({ length: IMAGES }, async (_, i) => ({
        field: 'images',
        filename: `kit-${i}.jpg`,
        data: await sharp({ create: { width: 320 + i * 16, height: 240, channels: 3, background: { r: 40 * i, g: 90, b: 120 } } })
          .jpeg()
          .toBuffer(),
      })),
    );
    v2.delayMs = 150; // slow enough to stop the server part-way
    const body = await multipartBody({ toolkit_id: kitId }, files);
    const res = await t.app.inject({ method: 'POST', url: '/api/v1/jobs', headers: { ...auth, ...body.headers }, payload: body.payload });
    expect(res.statusCode, res.body).toBe(202);
    const id = res.json().job_id as string;

    let state = await job(id);
    for (let i = 0; i < 200 && state.processed < 1; i++) {
      await new Promise((r) => setTimeout(r, 20));
      state = await job(id);
    }
    expect(state.processed).toBeGreaterThanOrEqual(1);
    expect(state.processed).toBeLessThan(IMAGES);

    await v2.stop();
    await new Promise((r) => setTimeout(r, 1_000));
    state = await job(id);
    expect(state.state).toBe('running');
    expect(state.failed).toBe(0);
    const processedWhileDown = state.processed;

    v2.delayMs = 0;
    await v2.start();
    for (let i = 0; i < 300 && !['completed', 'failed', 'cancelled'].includes(state.state); i++) {
      await new Promise((r) => setTimeout(r, 50));
      state = await job(id);
    }
    expect(state).toMatchObject({ state: 'completed', total: IMAGES, processed: IMAGES, failed: 0 });
    expect(state.processed).toBeGreaterThan(processedWhileDown);
    expect(state.results).toHaveLength(IMAGES);
    for (const result of state.results) expect(result.prediction.detections.length).toBeGreaterThan(0);
  });
});

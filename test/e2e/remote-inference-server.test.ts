/**
 * The service as a user starts it (`npm start`) with INFERENCE_URL pointing at a KServe v2
 * server started here: previews go through the remote model; killing the server gives 503 +
 * Retry-After (and a degraded health), bringing it back makes the same request succeed.
 */
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/config.js';
import { startV2Server, type V2Server } from '../helpers/remote-v2-server.js';
import { startServer, type ServerProcess } from '../helpers/server-process.js';

const MODEL = fileURLToPath(new URL('../fixtures/onnx/detect.onnx', import.meta.url));
const PASSWORD = 'remote-e2e-password';
const METRICS_TOKEN = 'remote-e2e-metrics-token';

describe('npm start with INFERENCE_URL', () => {
  let v2: V2Server;
  let server: ServerProcess;
  let tmp: { dir: string; cleanup: () => void };
  let auth: Record<string, string>;
  let toolkitId: number;
  let shade = 0;

  beforeAll(async () => {
    tmp = tempDir();
    v2 = await startV2Server({ modelPath: MODEL, modelName: 'fixture-yolo' });
    server = await startServer({
      DATA_DIR: tmp.dir,
      ADMIN_PASSWORD: PASSWORD,
      JWT_SECRET: 'remote-e2e-secret-remote-e2e-secret-0123456789',
      METRICS_TOKEN,
      MODEL_PATH: MODEL,
      INFERENCE_URL: v2.url,
      INFERENCE_MODEL_NAME: 'fixture-yolo',
      INFERENCE_TIMEOUT_MS: '2000',
    });
    const login = await fetch(`${server.baseUrl}/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ employee_number: 'admin', password: PASSWORD }),
    });
    expect(login.status).toBe(200);
    auth = { authorization: `Bearer ${((await login.json()) as { access_token: string }).access_token}` };
    const kits = (await (await fetch(`${server.baseUrl}/api/v1/toolkits`, { headers: auth })).json()) as { items?: Array<{ id: number }> } | Array<{ id: number }>;
    toolkitId = (Array.isArray(kits) ? kits : kits.items!)[0]!.id;
  }, 120_000);

  afterAll(async () => {
    await server?.stop();
    await v2?.close();
    tmp?.cleanup();
  });

  // A new photo each time: identical photos are answered from the detection result cache.
  const predict = async () => {
    shade++;
    const photo = await sharp({ create: { width: 640, height: 350, channels: 3, background: { r: 90, g: 120, b: shade } } }).jpeg().toBuffer();
    const form = new FormData();
    form.append('toolkit_id', String(toolkitId));
    form.append('confidence', '0.5');
    form.append('image', new Blob([new Uint8Array(photo)], { type: 'image/jpeg' }), 'kit.jpg');
    return fetch(`${server.baseUrl}/predict/`, { method: 'POST', headers: auth, body: form });
  };

  it('recognises through the remote server, 503 while it is down, and recovers', async () => {
    const health = (await (await fetch(`${server.baseUrl}/base/health`)).json()) as { model: { loaded: boolean; path: string } };
    // The file name only: public health does not show the server's directories.
    expect(health.model).toMatchObject({ loaded: true, path: 'detect.onnx' });

    const before = v2.inferCount;
    const ok = await predict();
    expect(ok.status, await ok.clone().text()).toBe(200);
    const body = (await ok.json()) as { detections: Array<{ class_name: string; box: unknown }> };
    // The fixture's constant detections (test/unit/ml-onnx-detector.test.ts), down to the review floor.
    expect(body.detections.map((d) => d.class_name).slice(0, 4)).toEqual(['7', 'Шэрница', '7', 'Шэрница']);
    expect(v2.inferCount).toBe(before + 1);

    await v2.stop();
    const down = await predict();
    expect(down.status).toBe(503);
    expect(Number(down.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(await down.json()).toMatchObject({ status: 503, code: 'inference.unavailable' });
    const degraded = (await (await fetch(`${server.baseUrl}/base/health`)).json()) as { status: string; model: { loaded: boolean; error?: string } };
    expect(degraded.status).toBe('degraded');
    expect(degraded.model).toMatchObject({ loaded: false, error: expect.stringContaining(v2.url) });

    await v2.start();
    const again = await predict();
    expect(again.status).toBe(200);
    expect(((await again.json()) as { detections: unknown[] }).detections).toEqual(body.detections);

    const metrics = await (await fetch(`${server.baseUrl}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } })).text();
    expect(metrics).toMatch(new RegExp(`toolcontrol_remote_inference_requests_total\\{server="${v2.url}",outcome="ok"\\} [1-9]`));
    expect(metrics).toMatch(/toolcontrol_remote_inference_requests_total\{server="[^"]+",outcome="error"\} [1-9]/);
    expect(metrics).toMatch(/toolcontrol_inference_failures_total\{backend="remote",code="inference.unavailable"\} 1/);
    expect(metrics).toMatch(/toolcontrol_inference_duration_seconds_count\{backend="remote",stage="inference"\} 2/);
    expect(server.output()).toContain('remote inference configured');
    expect(server.output()).toContain('inference server not answering');
  });
});

/**
 * The remote detector against a KServe v2 server started here (onnxruntime-node running the
 * same fixture ONNX): its detections equal the in-process detector's, it fails over between
 * servers, answers 503 (never a wrong result) while no server answers, and recovers.
 */
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Detector } from '../../src/ml/detector.js';
import { createOnnxDetector, type OnnxDetector } from '../../src/ml/onnx-detector.js';
import { createRemoteDetector, withRemoteReadiness, type RemoteDetector } from '../../src/ml/remote-detector.js';
import { modelStatusOf } from '../../src/ml/model-status.js';
import { ServiceUnavailableError } from '../../src/shared/errors.js';
import { silentLogger } from '../helpers/databases.js';
import { startV2Server, type V2Server } from '../helpers/remote-v2-server.js';
import { freePort } from '../helpers/server-process.js';

const fixture = (name: string) => fileURLToPath(new URL(`../fixtures/onnx/${name}`, import.meta.url));

async function solid(width: number, height: number, orientation?: number): Promise<Buffer> {
  const image = sharp({ create: { width, height, channels: 3, background: { r: 90, g: 120, b: 150 } } });
  return (orientation ? image.withMetadata({ orientation }) : image).jpeg().toBuffer();
}

let images: Buffer[];
beforeAll(async () => {
  images = await Promise.all([solid(640, 350), solid(300, 500), solid(1000, 1000), solid(800, 600, 6), solid(37, 91)]);
});

async function expectSameDetections(remote: Detector, local: Detector, confidence: number): Promise<void> {
  for (const image of images) {
    const [want, got] = await Promise.all([local.detect(image, { confidence }), remote.detect(image, { confidence })]);
    expect(got.image).toEqual(want.image);
    expect(got.detections).toEqual(want.detections);
  }
}

describe.each([
  { model: 'detect.onnx', binary: true },
  { model: 'detect.onnx', binary: false },
  { model: 'segment.onnx', binary: true },
])('remote $model (binary tensors: $binary) equals in-process', ({ model, binary }) => {
  let server: V2Server;
  let local: OnnxDetector;
  let remote: RemoteDetector;
  beforeAll(async () => {
    server = await startV2Server({ modelPath: fixture(model), modelName: 'toolcontrol-yolo' });
    local = await createOnnxDetector({ modelPath: fixture(model), threads: 1 });
    remote = await createRemoteDetector({
      urls: [server.url],
      modelName: 'toolcontrol-yolo',
      timeoutMs: 5_000,
      binary,
      localModelPath: fixture(model),
      probeIntervalMs: 0,
      logger: silentLogger,
    });
  });
  afterAll(async () => {
    await remote?.close();
    await local?.close();
    await server?.close();
  });

  it('has the same model identity', () => {
    expect(remote.info).toEqual(local.info);
    expect(remote.ready).toBe(true);
  });

  it('returns the same detections on the same images', async () => {
    await expectSameDetections(remote, local, 0.25);
    await expectSameDetections(remote, local, 0.5);
    expect(server.inferCount).toBe(images.length * 2);
    if (model === 'segment.onnx') {
      const { detections } = await remote.detect(images[0]!, { confidence: 0.25 });
      expect(detections.some((d) => d.polygon && d.polygon.length > 2)).toBe(true);
    }
  });

  it('refuses bad images with the same errors, without calling the server', async () => {
    const before = server.inferCount;
    await expect(remote.detect(Buffer.from('not an image'), { confidence: 0.5 })).rejects.toMatchObject({ status: 415 });
    expect(server.inferCount).toBe(before);
  });
});

describe('remote model described by the server alone', () => {
  let server: V2Server;
  beforeAll(async () => {
    server = await startV2Server({ modelPath: fixture('detect-no-metadata-dynamic.onnx'), modelName: 'm' });
  });
  afterAll(() => server?.close());

  it('takes the layout from /v2/models/{name} and names/imgsz from configuration', async () => {
    const remote = await createRemoteDetector({
      urls: [server.url],
      modelName: 'm',
      timeoutMs: 5_000,
      names: ['7', 'Шэрница', 'third'],
      imgsz: 320,
      probeIntervalMs: 0,
      logger: silentLogger,
    });
    const local = await createOnnxDetector({ modelPath: fixture('detect-no-metadata-dynamic.onnx'), threads: 1, names: ['7', 'Шэрница', 'third'], imgsz: 320 });
    try {
      expect(remote.info).toMatchObject({ task: 'detect', imgsz: [320, 320], names: { 0: '7', 1: 'Шэрница', 2: 'third' } });
      expect(remote.info.sha256).toMatch(/^[0-9a-f]{64}$/);
      expect(remote.info.path).toBe(`${server.url}/v2/models/m`);
      await expectSameDetections(remote, local, 0.25);
    } finally {
      await remote.close();
      await local.close();
    }
  });

  it('refuses to start without any description of the model', async () => {
    const dead = `http://127.0.0.1:${await freePort()}`;
    await expect(
      createRemoteDetector({ urls: [dead], modelName: 'm', timeoutMs: 500, probeIntervalMs: 0, logger: silentLogger }),
    ).rejects.toThrow(/no local model file/);
  });
});

describe('remote outages', () => {
  let primary: V2Server;
  let secondary: V2Server;
  let local: OnnxDetector;
  beforeAll(async () => {
    [primary, secondary] = await Promise.all([
      startV2Server({ modelPath: fixture('detect.onnx'), modelName: 'toolcontrol-yolo' }),
      startV2Server({ modelPath: fixture('detect.onnx'), modelName: 'toolcontrol-yolo' }),
    ]);
    local = await createOnnxDetector({ modelPath: fixture('detect.onnx'), threads: 1 });
  });
  afterAll(async () => {
    await local?.close();
    await primary?.close();
    await secondary?.close();
  });

  const remoteFor = (urls: string[], extra: { timeoutMs?: number; retries?: number } = {}) =>
    createRemoteDetector({
      urls,
      modelName: 'toolcontrol-yolo',
      timeoutMs: extra.timeoutMs ?? 3_000,
      retries: extra.retries ?? 1,
      backoffMs: 20,
      localModelPath: fixture('detect.onnx'),
      probeIntervalMs: 0,
      logger: silentLogger,
    });

  it('answers 503 inference.unavailable while the server is down, and works again once it is back', async () => {
    const remote = await remoteFor([primary.url]);
    try {
      const want = await local.detect(images[0]!, { confidence: 0.5 });
      expect((await remote.detect(images[0]!, { confidence: 0.5 })).detections).toEqual(want.detections);

      await primary.stop();
      const error = await remote.detect(images[0]!, { confidence: 0.5 }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ServiceUnavailableError);
      expect(error).toMatchObject({ status: 503, code: 'inference.unavailable' });
      expect((error as ServiceUnavailableError).retryAfterSeconds).toBeGreaterThanOrEqual(1);
      expect(remote.ready).toBe(false);
      const status = withRemoteReadiness(modelStatusOf(remote, 'x', null), remote);
      expect(status).toMatchObject({ loaded: false, error: expect.stringContaining('no inference server is ready') });

      await primary.start();
      await remote.probe();
      expect(remote.ready).toBe(true);
      expect(withRemoteReadiness(modelStatusOf(remote, 'x', null), remote).loaded).toBe(true);
      expect((await remote.detect(images[0]!, { confidence: 0.5 })).detections).toEqual(want.detections);
    } finally {
      await remote.close();
    }
  });

  it('a server killed while requests are in flight fails them with 503, never with a partial result', async () => {
    const remote = await remoteFor([primary.url], { retries: 0 });
    try {
      primary.delayMs = 300;
      const pending = images.map((image) => remote.detect(image, { confidence: 0.5 }).then(() => 'ok', (e: unknown) => e));
      await new Promise((r) => setTimeout(r, 100));
      await primary.stop();
      const outcomes = await Promise.all(pending);
      for (const outcome of outcomes) expect(outcome).toMatchObject({ status: 503, code: 'inference.unavailable' });
    } finally {
      primary.delayMs = 0;
      await primary.start();
      await remote.close();
    }
  });

  it('fails over to the next server when one is down or not ready, and spreads requests over healthy servers', async () => {
    const dead = `http://127.0.0.1:${await freePort()}`;
    const remote = await remoteFor([dead, primary.url, secondary.url]);
    try {
      const before = primary.inferCount + secondary.inferCount;
      for (let i = 0; i < 6; i++) await remote.detect(images[i % images.length]!, { confidence: 0.5 });
      expect(primary.inferCount + secondary.inferCount - before).toBe(6);
      expect(primary.inferCount).toBeGreaterThan(0);
      expect(secondary.inferCount).toBeGreaterThan(0);
      expect(remote.servers().find((s) => s.url === dead)).toMatchObject({ ready: false });

      secondary.ready = false;
      const primaryBefore = primary.inferCount;
      for (let i = 0; i < 3; i++) await remote.detect(images[0]!, { confidence: 0.5 });
      expect(primary.inferCount - primaryBefore).toBe(3);
    } finally {
      secondary.ready = true;
      await remote.close();
    }
  });

  it('times out a server that does not answer and tries the next', async () => {
    const remote = await remoteFor([primary.url, secondary.url], { timeoutMs: 200, retries: 0 });
    try {
      primary.delayMs = 2_000;
      const started = performance.now();
      // Round robin starts at either server; both orders must end on the answering one.
      for (let i = 0; i < 2; i++) {
        const result = await remote.detect(images[0]!, { confidence: 0.5 });
        expect(result.detections.length).toBeGreaterThan(0);
      }
      expect(performance.now() - started).toBeLessThan(1_500);

      secondary.delayMs = 2_000;
      await expect(remote.detect(images[0]!, { confidence: 0.5 })).rejects.toMatchObject({ code: 'inference.unavailable' });
    } finally {
      primary.delayMs = 0;
      secondary.delayMs = 0;
      await remote.close();
    }
  });
});

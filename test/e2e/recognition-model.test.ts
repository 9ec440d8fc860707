/**
 * The default model on rendered scenes, through the service's own recognition
 * path (decode → letterbox → onnxruntime → NMS → aliases → comparison).
 */
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/index.js';
import { createOnnxDetector, type OnnxDetector } from '../../src/ml/onnx-detector.js';
import { renderScene } from '../../src/synth/scene.js';
import { buildTestApp, type TestApp } from '../helpers/app.js';
import { multipartBody } from '../helpers/multipart.js';

// The scenes' seeds are ones the default model gets right (its accuracy on held-out
// scenes is in models/MODEL_CARD.md): these tests check the service around the model,
// and the evaluation command measures the model.
describe('default model through POST /predict/', () => {
  let t: TestApp;
  let detector: OnnxDetector;
  let auth: Record<string, string>;
  let kitId: number;

  beforeAll(async () => {
    detector = await createOnnxDetector({ modelPath: loadConfig({}).model.path });
    t = await buildTestApp({ overrides: { detector } });
    auth = { authorization: `Bearer ${await t.login()}` };
    kitId = (await t.app.inject({ url: '/api/v1/toolkits', headers: auth })).json().items[0].id;
  });
  afterAll(async () => {
    await t?.close();
    await detector?.close();
  });

  const predict = async (jpeg: Buffer) => {
    const body = await multipartBody({ toolkit_id: kitId }, [{ field: 'image', data: jpeg }]);
    const res = await t.app.inject({ method: 'POST', url: '/predict/', headers: { ...auth, ...body.headers }, payload: body.payload });
    expect(res.statusCode, res.body).toBe(200);
    return res.json();
  };

  it('recognises a full kit as complete', async () => {
    const scene = await renderScene({ seed: 910_001, kit: 'full' });
    const result = await predict(scene.jpeg);
    expect(result.comparison.missing).toEqual([]);
    expect(result.comparison.status).toBe('success');
    expect(result.model.sha256).toBe(detector.info.sha256);
    // NMS_AGNOSTIC is unset: the model's own recommendation (metadata agnostic_nms) applies.
    expect(result.thresholds.agnostic_nms).toBe(true);
  });

  it('finds the pliers missing', async () => {
    const scene = await renderScene({ seed: 910_002, kit: 'full', without: ['pliers'] });
    const result = await predict(scene.jpeg);
    expect(result.comparison.status).toBe('discrepancy');
    expect(result.comparison.missing.map((m: { class_key: string }) => m.class_key)).toEqual(['pliers']);
  });

  it('gives the same verdict and boxes for the photo stored rotated with EXIF orientation 6', async () => {
    const scene = await renderScene({ seed: 910_004, kit: 'full', without: ['pliers'] });
    // Pixels stored rotated 90° counter-clockwise; orientation 6 tells viewers to turn them back.
    const stored = await sharp(scene.jpeg).rotate(-90).withMetadata({ orientation: 6 }).jpeg({ quality: 95 }).toBuffer();
    const [upright, rotated] = [await predict(scene.jpeg), await predict(stored)];
    expect(rotated.image).toEqual(upright.image);
    expect(rotated.comparison.status).toBe(upright.comparison.status);
    expect(rotated.comparison.missing).toEqual(upright.comparison.missing);
    expect(rotated.detections.length).toBe(upright.detections.length);
    for (const d of rotated.detections) {
      const twin = upright.detections
        .filter((u: { tool_key: string }) => u.tool_key === d.tool_key)
        .sort((a: { box: { x1: number; y1: number } }, b: { box: { x1: number; y1: number } }) =>
          Math.hypot(a.box.x1 - d.box.x1, a.box.y1 - d.box.y1) - Math.hypot(b.box.x1 - d.box.x1, b.box.y1 - d.box.y1),
        )[0];
      expect(twin, `no upright twin for ${d.tool_key}`).toBeDefined();
      // Re-encoding the rotated JPEG changes pixels slightly: boxes agree within a few pixels.
      for (const side of ['x1', 'y1', 'x2', 'y2'] as const) expect(Math.abs(d.box[side] - twin.box[side])).toBeLessThan(6);
    }
    expect(rotated.detections.length).toBeGreaterThan(5);
  });
});

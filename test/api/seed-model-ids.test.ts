/**
 * The seed team's YOLO11-L names its classes by tool id ('1'…'11', its utils/mock.py order):
 * with MODEL_PATH alone (no alias set by hand) its detections count as the register's tools.
 * The model here is test/fixtures/onnx/detect-seed-ids.onnx (make_fixtures.py): constant boxes
 * of classes '3', '7' and '11' through the real pipeline (decode, letterbox, onnxruntime).
 */
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REFERENCE_KIT_NAME } from '../../src/db/seed.js';
import { TOOL_CLASSES } from '../../src/domain/tool-classes.js';
import { buildTestApp, type TestApp } from '../helpers/app.js';

const MODEL = fileURLToPath(new URL('../fixtures/onnx/detect-seed-ids.onnx', import.meta.url));

describe("a model whose classes are the seed's tool ids", () => {
  let t: TestApp;
  let kitId: number;

  beforeAll(async () => {
    // No detector override: the app loads MODEL_PATH as main does.
    t = await buildTestApp({ env: { MODEL_PATH: MODEL, INFERENCE_SESSIONS: '1' }, overrides: { detector: undefined } });
    const auth = { authorization: `Bearer ${await t.login()}` };
    const kits = (await t.app.inject({ url: '/api/v1/toolkits', headers: auth })).json().items as Array<{ id: number; name: string }>;
    kitId = kits.find((k) => k.name === REFERENCE_KIT_NAME)!.id;
  });
  afterAll(() => t?.close());

  it('loads with its names and shows the file name only', async () => {
    const health = (await t.app.inject({ url: '/base/health' })).json();
    expect(health.model).toMatchObject({ loaded: true, path: 'detect-seed-ids.onnx', task: 'detect' });
    expect(health.model.names).toEqual(Object.fromEntries(TOOL_CLASSES.map((_c, i) => [String(i), String(i + 1)])));
    expect((await t.app.inject({ url: '/' })).json().model.path).toBe('detect-seed-ids.onnx');
  });

  it("counts class '3' as the third tool of the register, with no alias set by hand", async () => {
    const image = await sharp({ create: { width: 640, height: 480, channels: 3, background: '#777' } }).jpeg().toBuffer();
    const recognition = await t.deps.services.recognition.recognize({ image, toolkitId: kitId });

    const three = recognition.detections.find((d) => d.class_name === '3');
    expect(three).toMatchObject({ tool_key: TOOL_CLASSES[2].key, tool_name: TOOL_CLASSES[2].name, uncertain: false });
    expect(TOOL_CLASSES[2].key).toBe('screwdriver_offset_phillips');
    expect(recognition.unmapped).toEqual([]);
    expect(recognition.counts).toEqual({ screwdriver_offset_phillips: 1, shernitsa: 1, side_cutters: 1 });
    // The other 8 tools of the reference kit are missing; nothing is extra.
    expect(recognition.comparison.missing.map((m) => m.class_key).sort()).toEqual(
      TOOL_CLASSES.map((c) => c.key)
        .filter((k) => !['screwdriver_offset_phillips', 'shernitsa', 'side_cutters'].includes(k))
        .sort(),
    );
    expect(recognition.comparison.extra).toEqual([]);
    expect(recognition.model.file).toBe('detect-seed-ids.onnx');
  });
});

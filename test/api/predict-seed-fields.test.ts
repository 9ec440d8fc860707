/**
 * Seed 000's own /predict/* fields (its PredictResponse, BatchPredictResponse and
 * BatchImageResult) on top of toolcontrol's, through the API with a scripted detector.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TOOL_CLASSES } from '../../src/domain/tool-classes.js';
import { buildTestApp, type TestApp } from '../helpers/app.js';
import { createScriptedDetector, FULL_KIT, kitWithout, solidJpeg, type ScriptedDetection } from '../helpers/fake-detector.js';
import { multipartBody } from '../helpers/multipart.js';
import { createUser } from '../helpers/users.js';
import { buildZip } from '../helpers/zip-builder.js';

interface RegisterTool {
  id: number;
  name: string;
  serial_number: string | null;
  category: string | null;
  class_key: string;
}

describe("seed 000's /predict/* fields", () => {
  let t: TestApp;
  let auth: Record<string, string>;
  let admin: Record<string, string>;
  let refKit: { id: number; items: Array<{ tool_id: number; class_key: string }> };
  let refTools: RegisterTool[];
  const scenes = new Map<string, ScriptedDetection[]>();

  const scene = async (rgb: [number, number, number], detections: ScriptedDetection[]) => {
    const photo = await solidJpeg(rgb);
    scenes.set(photo.toString('base64'), detections);
    return photo;
  };
  const toolOf = (key: string) => refTools.find((tool) => tool.class_key === key)!;
  const info = (tool: RegisterTool) => ({ id: tool.id, name: tool.name, serial_number: tool.serial_number ?? '', category: tool.category ?? '' });
  const post = async (url: string, toolkitId: number, files: Array<{ field: string; data: Buffer; filename?: string }>) => {
    const body = await multipartBody({ toolkit_id: toolkitId }, files);
    return t.app.inject({ method: 'POST', url, headers: { ...auth, ...body.headers }, payload: body.payload });
  };

  beforeAll(async () => {
    const detector = createScriptedDetector((image) => scenes.get(image.toString('base64')) ?? []);
    t = await buildTestApp({ overrides: { detector }, env: { SYNC_BATCH_LIMIT: '4' } });
    admin = { authorization: `Bearer ${await t.login()}` };
    auth = (await createUser(t, await t.login(), 'engineer', 'seed-fields')).auth;
    refKit = (await t.app.inject({ url: '/api/v1/toolkits', headers: auth })).json().items[0];
    refTools = (await t.app.inject({ url: '/api/v1/tools?limit=100', headers: admin })).json().items;
    expect(refTools).toHaveLength(TOOL_CLASSES.length);
  });
  afterAll(() => t?.close());

  it('POST /predict/ adds found_tools, hand_check, processed_image_url, ml_predictions and inference_time_ms', async () => {
    const photo = await scene([10, 20, 30], [
      { className: 'brace', confidence: 0.9 },
      ...kitWithout('pliers', 'brace'),
      { className: 'pliers', confidence: 0.3 }, // uncertain: not counted
      { className: 'mystery', confidence: 0.8 }, // maps to no tool
      { className: 'brace', confidence: 0.8 }, // an extra brace
    ]);
    const res = await post('/predict/', refKit.id, [{ field: 'image', data: photo }]);
    expect(res.statusCode, res.body).toBe(200);
    const body = res.json();
    // toolcontrol's own fields stay.
    expect(body.comparison.status).toBe('discrepancy');
    expect(body.detections).toHaveLength(13);

    // Each kit tool found once, in register order; pliers (uncertain only) is not among them.
    const found = refTools.filter((tool) => tool.class_key !== 'pliers').sort((a, b) => a.id - b.id);
    expect(body.found_tools).toEqual(found.map(info));
    expect(body.found_tools[0]).toEqual({
      id: expect.any(Number),
      name: 'Отвертка «-»',
      serial_number: expect.stringMatching(/^REF-\d{3}$/),
      category: 'Отвертки',
    });
    expect(body.hand_check).toBe(true);
    expect(body.processed_image_url).toBe(body.image_url);
    expect(body.processed_image_url).toMatch(/^\/media\//);
    expect((await t.app.inject({ url: body.processed_image_url, headers: auth })).statusCode).toBe(200);
    // One tool id per counted detection, in detection order.
    const counted = ['brace', ...kitWithout('pliers', 'brace').map((d) => d.className), 'brace'];
    expect(body.ml_predictions).toEqual(counted.map((key) => toolOf(key).id));
    expect(body.inference_time_ms).toBe(body.timings_ms.inference);
    expect(body.inference_time_ms).toBe(1);

    // The same photo again: the detections come from the cache, no inference ran.
    const again = (await post('/predict/', refKit.id, [{ field: 'image', data: photo }])).json();
    expect(again.timings_ms.cache).toBe('hit');
    expect(again.inference_time_ms).toBe(0);
  });

  it("is success with hand_check false for a complete kit, and maps classes to the kit's own tool first", async () => {
    // A second pliers without serial number or category, in a kit of its own with the reference flat screwdriver.
    const created = await t.app.inject({ method: 'POST', url: '/api/v1/tools', headers: admin, payload: { name: 'Пассатижи №2', class_key: 'pliers' } });
    expect(created.statusCode, created.body).toBe(201);
    const spare: RegisterTool = created.json();
    const kit = await t.app.inject({
      method: 'POST',
      url: '/api/v1/toolkits',
      headers: admin,
      payload: { name: 'Seed fields kit', items: [{ tool_id: toolOf('screwdriver_flat').id, quantity: 1 }, { tool_id: spare.id, quantity: 1 }] },
    });
    expect(kit.statusCode, kit.body).toBe(201);
    const kitId: number = kit.json().id;

    const complete = await scene([40, 50, 60], [
      { className: 'pliers', confidence: 0.9 },
      { className: 'screwdriver_flat', confidence: 0.9 },
    ]);
    const ok = (await post('/predict/', kitId, [{ field: 'image', data: complete }])).json();
    expect(ok.comparison.status).toBe('success');
    expect(ok.hand_check).toBe(false);
    expect(ok.found_tools).toEqual([info(toolOf('screwdriver_flat')), { id: spare.id, name: 'Пассатижи №2', serial_number: '', category: '' }]);
    // pliers → the kit's pliers (not the reference one, whose id is lower).
    expect(toolOf('pliers').id).toBeLessThan(spare.id);
    expect(ok.ml_predictions).toEqual([spare.id, toolOf('screwdriver_flat').id]);

    // A class the kit lacks maps to the register's tool of that class; found_tools lists kit tools only.
    const extra = await scene([70, 80, 90], [
      { className: 'side_cutters', confidence: 0.9 },
      { className: 'pliers', confidence: 0.9 },
    ]);
    const res = (await post('/predict/', kitId, [{ field: 'image', data: extra }])).json();
    expect(res.comparison.status).toBe('discrepancy');
    expect(res.hand_check).toBe(true);
    expect(res.found_tools).toEqual([{ id: spare.id, name: 'Пассатижи №2', serial_number: '', category: '' }]);
    expect(res.ml_predictions).toEqual([toolOf('side_cutters').id, spare.id]);
  });

  it('POST /predict/batch adds successful_images, failed_images and the seed fields of each image, a failed one included', async () => {
    const full = await scene([100, 110, 120], FULL_KIT);
    const noCutters = await scene([130, 140, 150], kitWithout('side_cutters'));
    const res = await post('/predict/batch', refKit.id, [
      { field: 'images', data: full, filename: 'full.jpg' },
      { field: 'images', data: Buffer.from('GIF89a not really'), filename: 'broken.gif' },
      { field: 'images', data: noCutters, filename: 'no-cutters.jpg' },
      { field: 'images', data: Buffer.from('%PDF-1.4 a pdf'), filename: 'doc.jpg' },
    ]);
    expect(res.statusCode, res.body).toBe(200);
    const body = res.json();
    expect(body).toMatchObject({ successful_images: 2, failed_images: 1, summary: { processed: 2, failed: 1, skipped: 1 } });
    const sorted = [...refTools].sort((a, b) => a.id - b.id);

    const [first, broken, second] = body.results;
    expect(first).toMatchObject({ index: 0, filename: 'full.jpg', success: true, hand_check: false, error_message: null, error: null });
    expect(first.found_tools).toEqual(sorted.map(info));
    expect(first.processed_image_url).toBe(first.prediction.image_url);
    expect(first.processed_image_url).toMatch(/^\/media\//);
    expect(first.ml_predictions).toEqual(FULL_KIT.map((d) => toolOf(d.className).id));
    expect(first.inference_time_ms).toBe(first.prediction.timings_ms.inference);

    expect(broken).toEqual({
      index: 1,
      filename: 'broken.gif',
      prediction: null,
      error: { status: 422, code: 'image.corrupt', detail: expect.any(String) },
      success: false,
      found_tools: [],
      hand_check: true,
      processed_image_url: null,
      ml_predictions: null,
      inference_time_ms: null,
      error_message: broken.error.detail,
    });
    expect(broken.error_message.length).toBeGreaterThan(0);

    expect(second).toMatchObject({ filename: 'no-cutters.jpg', success: true, hand_check: true, error_message: null });
    expect(second.found_tools).toEqual(sorted.filter((tool) => tool.class_key !== 'side_cutters').map(info));
    expect(second.ml_predictions).not.toContain(toolOf('side_cutters').id);
  });

  it('POST /predict/zip answers the same way', async () => {
    const full = await scene([160, 170, 180], FULL_KIT);
    const zip = buildZip([
      { name: 'shift/full.jpg', data: full },
      { name: 'shift/bad.gif', data: Buffer.from('GIF89a not really') },
      { name: 'shift/readme.txt', data: Buffer.from('hello') },
    ]);
    const res = await post('/predict/zip', refKit.id, [{ field: 'zip_file', data: zip, filename: 'shift.zip' }]);
    expect(res.statusCode, res.body).toBe(200);
    const body = res.json();
    expect(body.successful_images).toBe(1);
    expect(body.failed_images).toBe(1);
    expect(body.skipped).toEqual([expect.objectContaining({ entry_name: 'shift/readme.txt' })]);
    expect(body.results[0]).toMatchObject({ filename: 'shift/full.jpg', success: true, hand_check: false, error_message: null });
    expect(body.results[0].found_tools).toHaveLength(TOOL_CLASSES.length);
    expect(body.results[0].ml_predictions).toHaveLength(FULL_KIT.length);
    expect(body.results[0].processed_image_url).toMatch(/^\/media\//);
    expect(body.results[1]).toMatchObject({
      filename: 'shift/bad.gif',
      success: false,
      found_tools: [],
      hand_check: true,
      processed_image_url: null,
      ml_predictions: null,
      inference_time_ms: null,
      error_message: expect.any(String),
    });
    expect(body.results[1].error_message).toBe(body.results[1].error.detail);
  });
});

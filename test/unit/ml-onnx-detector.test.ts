/**
 * End-to-end through onnxruntime with hand-built graphs (test/fixtures/onnx/make_fixtures.py)
 * whose outputs are constants, so every expected box is computed here by hand.
 *
 * The test image is 640×350 and the model input 320×320: r = 0.5, resized 320×175,
 * dh = 72.5 → pad top round(72.4) = 72, bottom 73. An input-space box maps back as
 * x / 0.5 and (y − 72) / 0.5, clipped to 640×350.
 */
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RawDetection } from '../../src/ml/detector.js';
import { logBuiltInNms } from '../../src/ml/load-detector.js';
import { createOnnxDetector, type OnnxDetector } from '../../src/ml/onnx-detector.js';
import { ServiceUnavailableError } from '../../src/shared/errors.js';

const fixture = (name: string) => fileURLToPath(new URL(`../fixtures/onnx/${name}`, import.meta.url));

/** Expected detections at confidence 0.5 for the detect fixture (see make_fixtures.py). */
const EXPECTED_AT_HALF = [
  { classId: 0, className: '7', confidence: 0.9, box: { x1: 80, y1: 56, x2: 200, y2: 176 } }, // a0
  { classId: 1, className: 'Шэрница', confidence: 0.85, box: { x1: 80, y1: 56, x2: 200, y2: 176 } }, // a2: other class survives
  { classId: 0, className: '7', confidence: 0.7, box: { x1: 140, y1: 56, x2: 260, y2: 176 } }, // a5: IoU 1/3 with a0
  // a4: input (280, 60, 330, 120) → (560, −24, 660, 96), clipped to the image.
  { classId: 1, className: 'Шэрница', confidence: 0.6, box: { x1: 560, y1: 0, x2: 640, y2: 96 } },
];

function expectDetections(actual: RawDetection[], expected: typeof EXPECTED_AT_HALF): void {
  expect(actual).toHaveLength(expected.length);
  actual.forEach((detection, i) => {
    const want = expected[i]!;
    expect(detection.classId).toBe(want.classId);
    expect(detection.className).toBe(want.className);
    expect(detection.confidence).toBeCloseTo(want.confidence, 6);
    expect(detection.box).toEqual(want.box);
  });
}

let image: Buffer;

beforeAll(async () => {
  image = await sharp({ create: { width: 640, height: 350, channels: 3, background: { r: 90, g: 120, b: 150 } } })
    .jpeg()
    .toBuffer();
});

describe('detect model with Ultralytics metadata', () => {
  let detector: OnnxDetector;
  beforeAll(async () => {
    detector = await createOnnxDetector({ modelPath: fixture('detect.onnx'), threads: 1 });
  });
  afterAll(() => detector.close());

  it('reads the model identity from metadata_props', () => {
    expect(detector.info).toMatchObject({
      task: 'detect',
      names: { 0: '7', 1: 'Шэрница', 2: 'it\'s "quoted"' },
      imgsz: [320, 320],
      stride: 32,
      batch: 1,
      version: '8.3.40',
    });
    expect(detector.info.sha256).toMatch(/^[0-9a-f]{64}$/);
  });

  it('decodes, filters, runs class-aware NMS and scales back to the pixel', async () => {
    const result = await detector.detect(image, { confidence: 0.5 });
    expect(result.image).toEqual({ width: 640, height: 350 });
    expectDetections(result.detections, EXPECTED_AT_HALF);
    for (const key of ['decode', 'inference', 'postprocess'] as const) expect(result.timings[key]).toBeGreaterThanOrEqual(0);
  });

  it('gives the same detections with onnxruntime spinning off (the worker setting)', async () => {
    const quiet = await createOnnxDetector({ modelPath: fixture('detect.onnx'), threads: 2, spin: false });
    try {
      expectDetections((await quiet.detect(image, { confidence: 0.5 })).detections, EXPECTED_AT_HALF);
    } finally {
      await quiet.close();
    }
  });

  it('keeps a score equal to the threshold out, and lower thresholds let more in', async () => {
    const result = await detector.detect(image, { confidence: 0.25 });
    expect(result.detections.map((d) => d.confidence)).toEqual(
      [0.9, 0.85, 0.7, 0.6, 0.5, 0.3].map((v) => expect.closeTo(v, 6)),
    );
    // a7 (score exactly 0.5): input (10, 200, 30, 240) → (20, 256, 60, 336).
    expect(result.detections[4]!.box).toEqual({ x1: 20, y1: 256, x2: 60, y2: 336 });
  });

  it('applies the IoU threshold and the detection limit', async () => {
    // a1 (IoU 0.877 with a0) survives when the IoU threshold is above its overlap.
    const loose = await detector.detect(image, { confidence: 0.5, iou: 0.9 });
    expect(loose.detections.map((d) => d.confidence)).toEqual([0.9, 0.85, 0.8, 0.7, 0.6].map((v) => expect.closeTo(v, 6)));
    const limited = await detector.detect(image, { confidence: 0.5, maxDetections: 2 });
    expectDetections(limited.detections, EXPECTED_AT_HALF.slice(0, 2));
  });

  it('gives boxes on the upright image for a photo stored rotated with EXIF orientation 6', async () => {
    const rotated = await sharp(image).rotate(270).withMetadata({ orientation: 6 }).jpeg().toBuffer();
    expect(await sharp(rotated).metadata()).toMatchObject({ width: 350, height: 640 });
    const result = await detector.detect(rotated, { confidence: 0.5 });
    expect(result.image).toEqual({ width: 640, height: 350 });
    expectDetections(result.detections, EXPECTED_AT_HALF);
  });

  it('passes image errors through as 415 / 422', async () => {
    await expect(detector.detect(Buffer.from('%PDF-1.7\n'), { confidence: 0.5 })).rejects.toMatchObject({ status: 415 });
    await expect(detector.detect(image.subarray(0, 200), { confidence: 0.5 })).rejects.toMatchObject({ status: 422 });
  });

  it('rejects invalid options', async () => {
    await expect(detector.detect(image, { confidence: 1.5 })).rejects.toThrow(RangeError);
    await expect(detector.detect(image, { confidence: 0.5, maxDetections: 0 })).rejects.toThrow(RangeError);
  });

  it('exposes prepare and raw session timing for benchmarks', async () => {
    const prepared = await detector.prepare(image);
    const first = await detector.runRaw(prepared);
    const second = await detector.runRaw(prepared); // the prepared tensor stays usable
    expect(first.runMs).toBeGreaterThanOrEqual(0);
    expect(second.runMs).toBeGreaterThanOrEqual(0);
    expect(prepared.tensor).toHaveLength(3 * 320 * 320);
  });
});

describe('detect model without metadata, dynamic batch and input size', () => {
  it('uses names and imgsz from options, including a rectangular input', async () => {
    const detector = await createOnnxDetector({
      modelPath: fixture('detect-no-metadata-dynamic.onnx'),
      names: ['wrench', 'pliers', 'brace'],
      imgsz: [256, 320],
      threads: 1,
    });
    try {
      expect(detector.info).toMatchObject({ task: 'detect', imgsz: [256, 320], batch: null, stride: 32 });
      // imgsz [h=256, w=320]: r = 0.5, resized 320×175, dh = 40.5 → top 40: y maps as (y − 40) / 0.5.
      const result = await detector.detect(image, { confidence: 0.5 });
      expect(result.detections.map((d) => [d.className, d.box])).toEqual([
        ['wrench', { x1: 80, y1: 120, x2: 200, y2: 240 }],
        ['pliers', { x1: 80, y1: 120, x2: 200, y2: 240 }],
        ['wrench', { x1: 140, y1: 120, x2: 260, y2: 240 }],
        ['pliers', { x1: 560, y1: 40, x2: 640, y2: 160 }],
      ]);
    } finally {
      await detector.close();
    }
  });

  it('fails clearly without names or imgsz', async () => {
    await expect(createOnnxDetector({ modelPath: fixture('detect-no-metadata-dynamic.onnx'), imgsz: 320 })).rejects.toThrow(
      /no class names/,
    );
    await expect(
      createOnnxDetector({ modelPath: fixture('detect-no-metadata-dynamic.onnx'), names: ['a', 'b', 'c'] }),
    ).rejects.toThrow(/imgsz/);
  });

  it('fails clearly when the names do not fit the output', async () => {
    await expect(
      createOnnxDetector({ modelPath: fixture('detect-no-metadata-dynamic.onnx'), names: ['a', 'b'], imgsz: 320 }),
    ).rejects.toThrow(/7 channels, but 2 classes need 6/);
  });
});

describe('detect model with a fixed batch of 2', () => {
  it('pads the batch and reads the first item only', async () => {
    const detector = await createOnnxDetector({ modelPath: fixture('detect-batch2.onnx'), threads: 1 });
    try {
      expect(detector.info.batch).toBe(2);
      expectDetections((await detector.detect(image, { confidence: 0.5 })).detections, EXPECTED_AT_HALF);
    } finally {
      await detector.close();
    }
  });
});

/** segment.onnx's two detections on `image`, in original-image pixels. */
const SEGMENT_BOXES = [
  ['pliers', { x1: 80, y1: 56, x2: 240, y2: 216 }],
  ['brace', { x1: 400, y1: 56, x2: 560, y2: 216 }],
];
/**
 * The first one's mask outline. Mask 1: prototype cells x 15..24, y 30..39 (+10) in a −10 field,
 * inside its box. Upsampled ×4 (align_corners=False) the positive area is x 60..99, y 120..159
 * minus its four corner pixels, where both interpolation axes mix in −10. In the original:
 * x · 2, (y − 72) · 2.
 */
const SEGMENT_FIRST_OUTLINE = [
  [122, 96],
  [196, 96],
  [198, 98],
  [198, 172],
  [196, 174],
  [122, 174],
  [120, 172],
  [120, 98],
];

describe('segment model', () => {
  it('returns boxes and mask outlines in original-image pixels', async () => {
    const detector = await createOnnxDetector({ modelPath: fixture('segment.onnx'), threads: 1 });
    try {
      expect(detector.info).toMatchObject({ task: 'segment', names: { 0: 'pliers', 1: 'brace' } });
      const { detections } = await detector.detect(image, { confidence: 0.25 });
      expect(detections.map((d) => [d.className, d.box])).toEqual(SEGMENT_BOXES);
      expect(detections[0]!.polygon).toEqual(SEGMENT_FIRST_OUTLINE);
      // Mask 2: prototype cells x 45..74 are positive but the box (proto x 50..70) crops them to
      // 50..69 with zeros outside; zero–positive edges stay positive up to the zero cell's centre:
      // x 198..281, y 120..159 → (396, 96)–(562, 174).
      expect(detections[1]!.polygon).toEqual([
        [396, 96],
        [562, 96],
        [562, 174],
        [396, 174],
      ]);
    } finally {
      await detector.close();
    }
  });
});

describe('bounded queue', () => {
  it('answers 503 with Retry-After when the queue is full, then recovers', async () => {
    const detector = await createOnnxDetector({ modelPath: fixture('detect.onnx'), threads: 1, maxQueue: 1 });
    try {
      const first = detector.detect(image, { confidence: 0.5 });
      const second = detector.detect(image, { confidence: 0.5 });
      const third = detector.detect(image, { confidence: 0.5 });
      const error = await third.catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ServiceUnavailableError);
      expect(error).toMatchObject({ status: 503, code: 'inference.queue_full' });
      expect((error as ServiceUnavailableError).retryAfterSeconds).toBeGreaterThanOrEqual(1);
      expectDetections((await first).detections, EXPECTED_AT_HALF);
      expectDetections((await second).detections, EXPECTED_AT_HALF);
      expect(detector.inFlight).toBe(0);
      expectDetections((await detector.detect(image, { confidence: 0.5 })).detections, EXPECTED_AT_HALF);
    } finally {
      await detector.close();
    }
  });

  it('serves many concurrent requests in FIFO order across two sessions', async () => {
    const detector = await createOnnxDetector({ modelPath: fixture('detect.onnx'), sessions: 2, threads: 1, maxQueue: 20 });
    try {
      const results = await Promise.all(Array.from({ length: 12 }, () => detector.detect(image, { confidence: 0.5 })));
      for (const result of results) expectDetections(result.detections, EXPECTED_AT_HALF);
    } finally {
      await detector.close();
    }
  });
});

describe('float16 export (half=True)', () => {
  // Halves of the fixture's scores: the model's outputs are float16, read back exactly.
  const half = { 0.9: 0.89990234375, 0.85: 0.85009765625, 0.7: 0.7001953125, 0.6: 0.60009765625 };

  it('feeds the image as float16 and reads float16 outputs back to the pixel', async () => {
    const detector = await createOnnxDetector({ modelPath: fixture('detect-fp16.onnx'), threads: 1 });
    try {
      expect(detector.info).toMatchObject({ task: 'detect', imgsz: [320, 320], batch: 1 });
      // PNG, so the colour is exact: the model puts the red value of input pixel (160, 160),
      // 90/255 → float16 0.35302734375, in as the class-0 score of its last anchor.
      const png = await sharp({ create: { width: 640, height: 350, channels: 3, background: { r: 90, g: 120, b: 150 } } })
        .png()
        .toBuffer();
      const { detections } = await detector.detect(png, { confidence: 0.34 });
      expect(detections.map((d) => [d.classId, d.confidence, d.box])).toEqual([
        [0, half[0.9], EXPECTED_AT_HALF[0]!.box],
        [1, half[0.85], EXPECTED_AT_HALF[1]!.box],
        [0, half[0.7], EXPECTED_AT_HALF[2]!.box],
        [1, half[0.6], EXPECTED_AT_HALF[3]!.box],
        // a7 (0.5) and the probe: input (120, 200, 180, 260) → (240, 256, 360, 376), clipped to 350.
        [2, 0.5, { x1: 20, y1: 256, x2: 60, y2: 336 }],
        [0, 0.35302734375, { x1: 240, y1: 256, x2: 360, y2: 350 }],
      ]);
    } finally {
      await detector.close();
    }
  });
});

/** The rows of the NMS fixtures (make_fixtures.py NMS_ROWS) in original-image pixels. */
const NMS_EXPECTED = [
  { classId: 0, confidence: 0.9, box: { x1: 80, y1: 56, x2: 200, y2: 176 } },
  { classId: 1, confidence: 0.85, box: { x1: 80, y1: 56, x2: 200, y2: 176 } },
  // IoU 0.877 with the first, same class: the model's NMS kept it, and no second NMS runs here.
  { classId: 0, confidence: 0.8, box: { x1: 84, y1: 60, x2: 204, y2: 180 } },
  // Input (280, 60, 330, 120) → (560, −24, 660, 96), clipped to the image.
  { classId: 1, confidence: 0.6, box: { x1: 560, y1: 0, x2: 640, y2: 96 } },
  { classId: 2, confidence: 0.5, box: { x1: 20, y1: 256, x2: 60, y2: 336 } },
  { classId: 2, confidence: 0.3, box: { x1: 400, y1: 96, x2: 520, y2: 256 } },
];

function expectRows(actual: RawDetection[], expected: typeof NMS_EXPECTED, names: Record<number, string>): void {
  expect(actual.map((d) => [d.classId, d.className, d.box])).toEqual(expected.map((e) => [e.classId, names[e.classId], e.box]));
  actual.forEach((d, i) => expect(d.confidence).toBeCloseTo(expected[i]!.confidence, 6));
}

describe('export with NMS built in (nms=True): output0 [1, 300, 6]', () => {
  let detector: OnnxDetector;
  const names = { 0: '7', 1: 'Шэрница', 2: 'it\'s "quoted"' };
  beforeAll(async () => {
    detector = await createOnnxDetector({ modelPath: fixture('detect-nms.onnx'), threads: 1 });
  });
  afterAll(() => detector.close());

  it('is recognised from the metadata, with the export confidence floor', () => {
    expect(detector.info).toMatchObject({
      task: 'detect',
      names,
      builtInNms: { kind: 'nms-export', maxDetections: 300, confidenceFloor: 0.25 },
    });
  });

  it('reads rows as x1, y1, x2, y2, score, class, keeps score > confidence, skips NMS, scales and clips', async () => {
    expectRows((await detector.detect(image, { confidence: 0.5 })).detections, NMS_EXPECTED.slice(0, 4), names);
    expectRows((await detector.detect(image, { confidence: 0.25 })).detections, NMS_EXPECTED, names);
    // The 294 zero rows that pad the output never count, even at confidence 0.
    expect((await detector.detect(image, { confidence: 0 })).detections).toHaveLength(6);
  });

  it('ignores the IoU and agnostic options (the model did its NMS) but honours the detection limit', async () => {
    const result = await detector.detect(image, { confidence: 0.5, iou: 0.1, agnostic: true });
    expectRows(result.detections, NMS_EXPECTED.slice(0, 4), names);
    expectRows((await detector.detect(image, { confidence: 0.5, maxDetections: 2 })).detections, NMS_EXPECTED.slice(0, 2), names);
  });

  it('gives the same boxes for a photo stored rotated with EXIF orientation 6', async () => {
    const rotated = await sharp(image).rotate(270).withMetadata({ orientation: 6 }).jpeg().toBuffer();
    expectRows((await detector.detect(rotated, { confidence: 0.5 })).detections, NMS_EXPECTED.slice(0, 4), names);
  });

  it('logs once, at load, that lower confidences cannot be honoured', () => {
    const warnings: Array<[Record<string, unknown>, string]> = [];
    logBuiltInNms(detector.info, { warn: (context: Record<string, unknown>, message: string) => warnings.push([context, message]) } as never);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]![0]).toMatchObject({ kind: 'nms-export', confidenceFloor: 0.25, maxDetections: 300 });
    expect(warnings[0]![1]).toMatch(/confidence floor fixed at export \(0\.25.*review floor included, cannot be honoured/);
  });
});

describe('end-to-end output without metadata: recognised by its [1, 300, 6] shape', () => {
  it('decodes the rows exactly like an nms=True export', async () => {
    const detector = await createOnnxDetector({
      modelPath: fixture('detect-end2end-no-metadata.onnx'),
      names: ['wrench', 'pliers', 'brace'],
      threads: 1,
    });
    try {
      expect(detector.info.builtInNms).toEqual({ kind: 'output-shape', maxDetections: 300, confidenceFloor: null });
      expectRows((await detector.detect(image, { confidence: 0.25 })).detections, NMS_EXPECTED, {
        0: 'wrench',
        1: 'pliers',
        2: 'brace',
      });
    } finally {
      await detector.close();
    }
  });
});

describe('segment export with NMS built in: output0 [1, 300, 38] + output1', () => {
  it('returns the boxes and mask outlines the raw segment model gives', async () => {
    const detector = await createOnnxDetector({ modelPath: fixture('segment-nms.onnx'), threads: 1 });
    const raw = await createOnnxDetector({ modelPath: fixture('segment.onnx'), threads: 1 });
    try {
      expect(detector.info).toMatchObject({ task: 'segment', builtInNms: { kind: 'nms-export' } });
      const { detections } = await detector.detect(image, { confidence: 0.25 });
      // Same boxes, coefficients and prototypes as segment.onnx (see its test for the pixels).
      expect(detections.map((d) => [d.className, d.box])).toEqual(SEGMENT_BOXES);
      expect(detections[0]!.polygon).toEqual(SEGMENT_FIRST_OUTLINE);
      expect(detections).toEqual((await raw.detect(image, { confidence: 0.25 })).detections);
    } finally {
      await detector.close();
      await raw.close();
    }
  });
});

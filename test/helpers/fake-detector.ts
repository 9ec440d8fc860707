/**
 * A scripted Detector for API tests that are about the workflow, not the model:
 * detections are chosen by the test per image. Images still go through the service's
 * own pre-processing (validation, decode, EXIF orientation, letterbox), so bad uploads
 * fail as they would with a model.
 */
import sharp from 'sharp';
import { TOOL_CLASSES } from '../../src/domain/tool-classes.js';
import { preprocessImage } from '../../src/media/preprocess.js';
import type { Box, Detector, RawDetection } from '../../src/ml/detector.js';

export interface ScriptedDetection {
  className: string;
  confidence: number;
  box?: Box;
}

export function createScriptedDetector(script: (image: Buffer) => ScriptedDetection[]): Detector & { calls: number } {
  const names = Object.fromEntries(TOOL_CLASSES.map((c, i) => [i, c.key]));
  const detector = {
    calls: 0,
    info: {
      sha256: 'f'.repeat(64),
      path: '/models/scripted.onnx',
      task: 'detect' as const,
      names,
      imgsz: [416, 416] as [number, number],
      stride: 32,
      batch: 1,
    },
    async detect(image: Buffer, options: { confidence: number }) {
      detector.calls++;
      const { width, height } = (await preprocessImage(image, { imgsz: detector.info.imgsz })).original;
      const detections: RawDetection[] = script(image)
        .filter((d) => d.confidence >= options.confidence)
        .map((d, i) => ({
          classId: Number(Object.entries(names).find(([, n]) => n === d.className)?.[0] ?? -1),
          className: d.className,
          confidence: d.confidence,
          box: d.box ?? { x1: 10 + i * 20, y1: 10, x2: 30 + i * 20, y2: 60 },
        }));
      return { detections, image: { width, height }, timings: { decode: 1, inference: 1, postprocess: 0 } };
    },
    async close() {},
  };
  return detector;
}

/** A small real JPEG whose colour tells the scripted detector which scene it is. */
export async function solidJpeg(rgb: [number, number, number], width = 320, height = 240): Promise<Buffer> {
  return sharp({ create: { width, height, channels: 3, background: { r: rgb[0], g: rgb[1], b: rgb[2] } } })
    .jpeg()
    .toBuffer();
}

/** Every tool of the reference kit, confidently. */
export const FULL_KIT: ScriptedDetection[] = TOOL_CLASSES.map((c) => ({ className: c.key, confidence: 0.9 }));

export function kitWithout(...keys: string[]): ScriptedDetection[] {
  return FULL_KIT.filter((d) => !keys.includes(d.className));
}

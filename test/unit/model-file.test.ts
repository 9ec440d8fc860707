/** The committed default model: Ultralytics' detect layout and metadata, and fast enough. */
import fs from 'node:fs';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/index.js';
import { TOOL_CLASSES } from '../../src/domain/tool-classes.js';
import { readOnnxMetadataProps } from '../../src/ml/onnx-metadata.js';
import { parsePythonLiteral } from '../../src/ml/python-literal.js';

const modelPath = loadConfig({}).model.path;

describe('default model file', () => {
  it('is small enough to commit', () => {
    expect(fs.statSync(modelPath).size).toBeLessThan(15 * 1024 * 1024);
  });

  it('carries Ultralytics-style metadata: names as a Python dict, imgsz, stride, task', async () => {
    const props = await readOnnxMetadataProps(modelPath);
    expect(props.get('task')).toBe('detect');
    expect(props.get('stride')).toBe('32');
    expect(props.get('batch')).toBe('1');
    const imgsz = parsePythonLiteral(props.get('imgsz')!);
    expect(Array.isArray(imgsz) && imgsz.length === 2).toBe(true);
    const names = parsePythonLiteral(props.get('names')!) as Map<number, string>;
    expect([...names.entries()]).toEqual(TOOL_CLASSES.map((c, i) => [i, c.key]));
    for (const key of ['description', 'author', 'version', 'date']) expect(props.get(key)).toBeTruthy();
    // toolcontrol's own key: this model counts best with NMS across classes (models/MODEL_CARD.md).
    expect(props.get('agnostic_nms')).toBe('True');
  });

  it('takes images [N,3,H,W] and returns output0 [N, 4+11, anchors] with a dynamic batch axis', async () => {
    const session = await ort.InferenceSession.create(modelPath);
    try {
      expect(session.inputNames).toEqual(['images']);
      expect(session.outputNames).toEqual(['output0']);
      const props = await readOnnxMetadataProps(modelPath);
      const [h, w] = parsePythonLiteral(props.get('imgsz')!) as number[];
      const anchors = (h! / 8) * (w! / 8) + (h! / 16) * (w! / 16) + (h! / 32) * (w! / 32);
      for (const batch of [1, 2]) {
        const input = new ort.Tensor('float32', new Float32Array(batch * 3 * h! * w!).fill(114 / 255), [batch, 3, h!, w!]);
        const { output0 } = await session.run({ images: input });
        expect(output0!.dims).toEqual([batch, 4 + TOOL_CLASSES.length, anchors]);
        const data = output0!.data as Float32Array;
        // Scores are probabilities (sigmoid inside the graph); boxes are in input pixels.
        const scores = data.subarray(4 * anchors, (4 + TOOL_CLASSES.length) * anchors);
        expect(Math.min(...scores)).toBeGreaterThanOrEqual(0);
        expect(Math.max(...scores)).toBeLessThanOrEqual(1);
        const cx = data.subarray(0, anchors);
        expect(Math.max(...cx)).toBeLessThan(w! * 1.5);
      }
    } finally {
      await session.release();
    }
  });
});

import { writeFile, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { agnosticNmsFor } from '../../src/ml/detector.js';
import { createInferencePool } from '../../src/ml/inference-pool.js';
import { resolveModelInfo, type ModelSignature } from '../../src/ml/model-info.js';
import { OnnxFormatError, readOnnxMetadataProps, readOnnxMetadataPropsFromBuffer } from '../../src/ml/onnx-metadata.js';

const fixture = (name: string) => fileURLToPath(new URL(`../fixtures/onnx/${name}`, import.meta.url));

describe('readOnnxMetadataProps', () => {
  it('reads Ultralytics metadata_props from the protobuf, UTF-8 intact', async () => {
    const props = await readOnnxMetadataProps(fixture('detect.onnx'));
    expect(props.get('names')).toBe(`{0: '7', 1: 'Шэрница', 2: 'it\\'s "quoted"'}`);
    expect(props.get('imgsz')).toBe('[320, 320]');
    expect(props.get('task')).toBe('detect');
    expect(props.get('stride')).toBe('32');
  });

  it('returns nothing for a model without metadata', async () => {
    expect((await readOnnxMetadataProps(fixture('detect-no-metadata-dynamic.onnx'))).size).toBe(0);
  });

  it('skips unknown fields of every wire type', async () => {
    // field 1 varint, field 3 fixed64, field 4 fixed32, field 14 entry {key 'k', value 'v'}.
    const bytes = Uint8Array.from([0x08, 0x96, 0x01, 0x19, 1, 2, 3, 4, 5, 6, 7, 8, 0x25, 1, 2, 3, 4, 0x72, 6, 0x0a, 1, 0x6b, 0x12, 1, 0x76]);
    expect(await readOnnxMetadataPropsFromBuffer(bytes)).toEqual(new Map([['k', 'v']]));
  });

  it('rejects a file that is not a protobuf', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'onnx-'));
    const path = join(dir, 'garbage.onnx');
    await writeFile(path, Buffer.from([0x0f, 0xff, 0xff]));
    await expect(readOnnxMetadataProps(path)).rejects.toBeInstanceOf(OnnxFormatError);
    await expect(readOnnxMetadataPropsFromBuffer(Uint8Array.from([0x72, 0x40, 0x0a]))).rejects.toThrow(/past the end/);
  });
});

const detectSignature: ModelSignature = {
  inputs: [{ name: 'images', type: 'float32', shape: [1, 3, 640, 640] }],
  outputs: [{ name: 'output0', type: 'float32', shape: [1, 6, 8400] }],
};

function resolve(metadata: Record<string, string>, signature = detectSignature, fallbacks = {}) {
  return resolveModelInfo({ path: 'm.onnx', sha256: 'ab', metadata: new Map(Object.entries(metadata)), signature, fallbacks });
}

describe('resolveModelInfo', () => {
  it('derives names, imgsz, stride, task and batch', () => {
    const { info, layout } = resolve({ names: "{0: 'pliers', 1: 'brace'}", imgsz: '[640, 640]', stride: '32', task: 'detect' });
    expect(info).toMatchObject({ task: 'detect', names: { 0: 'pliers', 1: 'brace' }, imgsz: [640, 640], stride: 32, batch: 1 });
    expect(layout).toEqual({
      inputName: 'images',
      inputType: 'float32',
      predictionsName: 'output0',
      prototypesName: null,
      numClasses: 2,
      head: 'raw',
    });
    expect(info).not.toHaveProperty('builtInNms');
  });

  it('falls back to configured names (list or record) and the input size', () => {
    expect(resolve({}, detectSignature, { names: ['a', 'b'] }).info).toMatchObject({ names: { 0: 'a', 1: 'b' }, imgsz: [640, 640] });
    expect(resolve({}, detectSignature, { names: { 0: 'a', 1: 'b' } }).info.names).toEqual({ 0: 'a', 1: 'b' });
  });

  it('treats a symbolic batch axis as dynamic and infers segment from the prototype output', () => {
    const { info, layout } = resolve({ names: "{0: 'a'}" }, {
      inputs: [{ name: 'images', type: 'float32', shape: ['batch', 3, 640, 640] }],
      outputs: [
        { name: 'output0', type: 'float32', shape: ['batch', 37, 'anchors'] },
        { name: 'output1', type: 'float32', shape: ['batch', 32, 160, 160] },
      ],
    });
    expect(info).toMatchObject({ task: 'segment', batch: null });
    expect(layout.prototypesName).toBe('output1');
  });

  it("reads the model's NMS recommendation (agnostic_nms); the operator's setting wins, per class without either", () => {
    expect(resolve({ names: "{0: 'a', 1: 'b'}", agnostic_nms: 'True' }).info.agnosticNms).toBe(true);
    expect(resolve({ names: "{0: 'a', 1: 'b'}", agnostic_nms: 'False' }).info.agnosticNms).toBe(false);
    const ultralytics = resolve({ names: "{0: 'a', 1: 'b'}" }).info;
    expect(ultralytics).not.toHaveProperty('agnosticNms');
    expect(agnosticNmsFor(null, ultralytics)).toBe(false);
    expect(agnosticNmsFor(null, { agnosticNms: true })).toBe(true);
    expect(agnosticNmsFor(false, { agnosticNms: true })).toBe(false);
    expect(agnosticNmsFor(true, ultralytics)).toBe(true);
  });

  it.each([
    [{ names: "{0: 'a', 1: 'b'}", agnostic_nms: "'yes'" }, detectSignature, /'agnostic_nms' is not True or False/],
    [{ names: "{0: 'a'}", task: 'pose' }, detectSignature, /task 'pose' is not supported/],
    [{ names: "{0: 'a', 1: 'b'}", imgsz: '[320, 320]' }, detectSignature, /does not match the input \[640, 640\]/],
    [{ names: '{0: a}' }, detectSignature, /metadata 'names' is not a Python literal/],
    [{ names: "{0: 'a', 2: 'b'}" }, detectSignature, /class indices must be 0..1/],
    [{ names: "{0: 'a', 1: 'b'}", stride: 'x' }, detectSignature, /'stride' is not an integer/],
    [
      { names: "{0: 'a'}" },
      { ...detectSignature, inputs: [{ name: 'images', type: 'uint8', shape: [1, 3, 640, 640] }] },
      /input 'images' is uint8; only float32 and float16/,
    ],
    [
      { names: "{0: 'a', 1: 'b'}" },
      { ...detectSignature, outputs: [{ name: 'output0', type: 'int64', shape: [1, 6, 8400] }] },
      /output 'output0' is int64/,
    ],
    [
      { names: "{0: 'a', 1: 'b', 2: 'c'}" },
      detectSignature,
      /6 channels, but 3 classes need 7 .*with NMS built in would give \[B, detections, 6\]/,
    ],
    [
      { names: "{0: 'a'}", args: "{'nms': True}" },
      { ...detectSignature, outputs: [{ name: 'output0', type: 'float32', shape: [1, 300, 7] }] },
      /a model with NMS built in gives \[B, detections, 6\] \(x1, y1, x2, y2, score, class\)/,
    ],
    [
      { names: "{0: 'a'}", task: 'segment', end2end: 'True' },
      {
        ...detectSignature,
        outputs: [
          { name: 'output0', type: 'float32', shape: [1, 300, 6] },
          { name: 'output1', type: 'float32', shape: [1, 32, 160, 160] },
        ],
      },
      /gives \[B, detections, 38\] \(x1, y1, x2, y2, score, class and 32 mask coefficients\)/,
    ],
    [{ names: "{0: 'a', 1: 'b'}", end2end: "'yes'" }, detectSignature, /'end2end' is not True or False/],
  ])('rejects %j with a clear error', (metadata, signature, message) => {
    expect(() => resolve(metadata, signature)).toThrow(message);
  });

  it('accepts float16 exports (half=True)', () => {
    const half = (shape: (number | string)[]) => ({ name: 'output0', type: 'float16', shape });
    const { layout } = resolve({ names: "{0: 'a', 1: 'b'}" }, {
      inputs: [{ name: 'images', type: 'float16', shape: [1, 3, 640, 640] }],
      outputs: [half([1, 6, 8400])],
    });
    expect(layout).toMatchObject({ inputType: 'float16', head: 'raw' });
  });

  describe('models with NMS built in', () => {
    const rows = (width: number | string, k: number | string = 300) => ({
      ...detectSignature,
      outputs: [{ name: 'output0', type: 'float32', shape: [1, k, width] }],
    });

    it.each([
      // YOLO11 export(nms=True): Ultralytics records the argument; the floor is its conf default.
      [{ args: "{'batch': 1, 'half': False, 'nms': True}" }, rows(6), { kind: 'nms-export', maxDetections: 300, confidenceFloor: 0.25 }],
      [{ args: "{'nms': True, 'conf': 0.4}" }, rows('values', 'k'), { kind: 'nms-export', maxDetections: null, confidenceFloor: 0.4 }],
      // YOLOv10 / YOLO26 end-to-end heads: top-k rows, no confidence floor.
      [{ end2end: 'True', args: "{'nms': False}" }, rows(6), { kind: 'end2end', maxDetections: 300, confidenceFloor: null }],
      // No metadata to say so: rows of 6 that do not fit the classes as channels.
      [{}, rows(6, 100), { kind: 'output-shape', maxDetections: 100, confidenceFloor: null }],
    ])('recognises %j', (extra, signature, builtInNms) => {
      const { info, layout } = resolve({ names: "{0: 'a', 1: 'b', 2: 'c'}", ...extra }, signature);
      expect(layout.head).toBe('end-to-end');
      expect(info.builtInNms).toEqual(builtInNms);
    });

    it('keeps the raw head when the metadata says neither and the channels fit', () => {
      // end2end: False (newer Ultralytics writes it for every export), 'nms': False.
      const { layout, info } = resolve({ names: "{0: 'a', 1: 'b'}", end2end: 'False', args: "{'nms': False}" });
      expect(layout.head).toBe('raw');
      expect(info.builtInNms).toBeUndefined();
      // [1, 6, 6] with two classes fits both readings: the raw one wins without metadata.
      expect(resolve({ names: "{0: 'a', 1: 'b'}" }, rows(6, 6)).layout.head).toBe('raw');
    });

    it('reads the segment variant: rows of 6 + 32 mask coefficients with prototypes', () => {
      const { info, layout } = resolve({ names: "{0: 'a'}", task: 'segment', args: "{'nms': True}" }, {
        ...detectSignature,
        outputs: [
          { name: 'output0', type: 'float32', shape: [1, 300, 38] },
          { name: 'output1', type: 'float32', shape: [1, 32, 160, 160] },
        ],
      });
      expect(info.task).toBe('segment');
      expect(layout).toMatchObject({ head: 'end-to-end', prototypesName: 'output1' });
    });
  });
});

describe('inference pool', () => {
  it('turns a failing run into a rejection and keeps serving', async () => {
    const pool = await createInferencePool({ modelPath: fixture('detect.onnx'), sessions: 1, threads: 1 });
    try {
      const wrong = pool.run({ images: { data: new Float32Array(3 * 8 * 8), dims: [1, 3, 8, 8] } });
      await expect(wrong).rejects.toThrow(/Inference failed/);
      const ok = await pool.run({ images: { data: new Float32Array(3 * 320 * 320), dims: [1, 3, 320, 320] } });
      expect(ok.outputs.output0?.dims).toEqual([1, 7, 8]);
    } finally {
      await pool.close();
    }
  });

  it('fails to start with a clear error for a file that is not a model', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'onnx-'));
    const path = join(dir, 'not-a-model.onnx');
    await writeFile(path, 'hello');
    await expect(createInferencePool({ modelPath: path, sessions: 1, threads: 1 })).rejects.toThrow(/Cannot load model/);
  });
});

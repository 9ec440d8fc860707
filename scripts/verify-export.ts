/**
 * npx tsx scripts/verify-export.ts models/toolcontrol-yolo.onnx
 *
 * Runs the exported model in onnxruntime on the probe batch the trainer saved
 * beside it and compares with torch's output: the export must compute what was
 * trained. Prints the largest differences and exits 1 beyond tolerance.
 */
import fs from 'node:fs';
import * as ort from 'onnxruntime-node';
import { readOnnxMetadataProps } from '../src/ml/onnx-metadata.js';
import { parsePythonLiteral } from '../src/ml/python-literal.js';

const modelPath = process.argv[2] ?? 'models/toolcontrol-yolo.onnx';
const input = new Float32Array(new Uint8Array(fs.readFileSync(`${modelPath}.probe-input.bin`)).buffer);
const expected = new Float32Array(new Uint8Array(fs.readFileSync(`${modelPath}.probe-output.bin`)).buffer);
const session = await ort.InferenceSession.create(modelPath);
const [height, width] = parsePythonLiteral((await readOnnxMetadataProps(modelPath)).get('imgsz')!) as number[];
const { output0 } = await session.run({ images: new ort.Tensor('float32', input, [2, 3, height!, width!]) });
const actual = output0!.data as Float32Array;
if (actual.length !== expected.length) throw new Error(`shape differs: ${output0!.dims} has ${actual.length} values, torch ${expected.length}`);
const channels = output0!.dims[1]!;
const anchors = output0!.dims[2]!;
let maxBox = 0;
let maxScore = 0;
for (let i = 0; i < actual.length; i++) {
  const diff = Math.abs(actual[i]! - expected[i]!);
  const channel = Math.floor(i / anchors) % channels;
  if (channel < 4) maxBox = Math.max(maxBox, diff);
  else maxScore = Math.max(maxScore, diff);
}
console.log(`output0 ${output0!.dims.join('×')}: max |onnx − torch| boxes ${maxBox.toExponential(2)} px, scores ${maxScore.toExponential(2)}`);
if (maxBox > 1e-2 || maxScore > 1e-4) {
  console.error('export does not match torch');
  process.exit(1);
}

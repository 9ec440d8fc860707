/**
 * npm run calibrate:model -- --data ml/data/train7 [--split val] [--model models/toolcontrol-yolo.onnx]
 *
 * Where should the model's scores cross the service's default confidence (0.5, as the seed
 * has it)? Runs a dataset split the model was not trained on (the validation scenes of
 * `npm run synth`) through the service's inference path, tallies the kit-level verdicts at
 * confidences from 0.30 to 0.70 (steps of 0.025), and picks the one whose neighbourhood (it
 * and the steps either side) has the most right verdicts, never one that reports more kits
 * complete while a tool is missing than the default does (ties go to the confidence nearest
 * the default). Prints the table and the logit shift that moves the
 * chosen confidence onto the default:
 *
 *   /usr/bin/python3 ml/shift_scores.py MODEL OUT SHIFT
 *
 * writes a model whose class scores carry that shift (a constant added to every class
 * logit: the ranking of detections, and so NMS and AP, stay as they were). Never calibrate
 * on eval:model's held-out scenes: they measure the result.
 */
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig } from '../src/config/index.js';
import { agnosticNmsFor } from '../src/ml/detector.js';
import { createOnnxDetector } from '../src/ml/onnx-detector.js';
import { createVerdictTallies } from './lib/kit-verdicts.js';

const { values } = parseArgs({
  options: {
    data: { type: 'string' },
    split: { type: 'string', default: 'val' },
    model: { type: 'string' },
  },
});
if (!values.data) {
  console.error('calibrate:model: --data DIR (a dataset written by npm run synth) is required');
  process.exit(2);
}
const imagesDir = path.join(values.data, 'images', values.split!);
const labelsDir = path.join(values.data, 'labels', values.split!);
if (!fs.existsSync(imagesDir) || !fs.existsSync(labelsDir)) {
  console.error(`calibrate:model: ${imagesDir} or ${labelsDir} does not exist`);
  process.exit(2);
}

const config = loadConfig({ ...process.env, LOG_LEVEL: 'silent' });
const modelPath = values.model ?? config.model.path;
const detector = await createOnnxDetector({ modelPath });
const agnostic = agnosticNmsFor(config.recognition.nmsAgnostic, detector.info);
const DEFAULT = config.recognition.defaultConfidence;
const thresholds = Array.from({ length: 17 }, (_, i) => Math.round((0.3 + i * 0.025) * 1000) / 1000);
const verdicts = createVerdictTallies({
  thresholds: [...thresholds, DEFAULT],
  reviewFloor: config.recognition.reviewFloor,
  matchThreshold: config.recognition.matchThreshold,
});

const images = fs.readdirSync(imagesDir).filter((f) => /\.(jpe?g|png)$/i.test(f)).sort();
console.log(`model ${modelPath} (sha256 ${detector.info.sha256.slice(0, 16)}…); ${images.length} scenes of ${imagesDir}`);
for (const file of images) {
  const labelFile = path.join(labelsDir, file.replace(/\.[^.]+$/, '.txt'));
  const truth = fs.existsSync(labelFile)
    ? fs
        .readFileSync(labelFile, 'utf8')
        .split('\n')
        .filter((line) => line.trim())
        .map((line) => {
          const name = detector.info.names[Number(line.split(' ')[0])];
          if (name === undefined) throw new Error(`${labelFile}: class ${line.split(' ')[0]} is not one of the model's`);
          return name;
        })
    : [];
  const result = await detector.detect(fs.readFileSync(path.join(imagesDir, file)), { confidence: 0.001, iou: config.recognition.nmsIou, agnostic });
  verdicts.add(null, truth, result.detections);
}
await detector.close();

const { tallies } = verdicts;
const atDefault = tallies.get(DEFAULT)!;
console.log(`\n${verdicts.table(3)}`);
// 250 scenes make a noisy curve: each confidence is judged by the mean of its own and its
// neighbours' right verdicts on the grid.
const grid = thresholds.map((t) => tallies.get(t)!);
const smoothed = (i: number) => {
  const near = grid.slice(Math.max(0, i - 1), i + 2);
  return near.reduce((sum, t) => sum + t.right, 0) / near.length;
};
const candidates = thresholds
  .map((threshold, i) => ({ threshold, tally: grid[i]!, score: smoothed(i) }))
  .filter((c) => c.tally.falseComplete <= atDefault.falseComplete)
  .sort((a, b) => b.score - a.score || Math.abs(a.threshold - DEFAULT) - Math.abs(b.threshold - DEFAULT));
const { threshold: chosen, tally } = candidates[0]!;
const logit = (p: number) => Math.log(p / (1 - p));
const shift = logit(DEFAULT) - logit(chosen);
console.log(
  `\nbest confidence ${chosen} (${tally.right}/${tally.scenes} right, against ${atDefault.right}/${atDefault.scenes} at the default ${DEFAULT}); ` +
    `logit shift ${shift.toFixed(4)}`,
);
if (chosen !== DEFAULT) console.log(`apply it: /usr/bin/python3 ml/shift_scores.py ${modelPath} OUT.onnx ${shift.toFixed(4)}`);

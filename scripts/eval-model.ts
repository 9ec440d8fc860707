/**
 * npm run eval:model -- [--count 300] [--seed 9000000] [--model models/toolcontrol-yolo.onnx] [--confidence 0.5]
 *
 * Renders held-out scenes (seeds never used in training: training used 1,000,000+
 * and 2,000,000+), runs them through the service's own inference path (the ONNX
 * detector: decode, letterbox, onnxruntime, NMS, scale back) and prints precision,
 * recall, AP50 and AP50-95 per class and overall, then the kit-level verdict
 * accuracy: scenes whose missing and extra tools, as the service reports them
 * against the reference kit, are exactly right — at --confidence (default: the
 * service's DEFAULT_CONFIDENCE), and for comparison at a few other thresholds.
 */
import { parseArgs } from 'node:util';
import { loadConfig } from '../src/config/index.js';
import { classifyDetections } from '../src/domain/detection-classification.js';
import { compareKit } from '../src/domain/kit-comparison.js';
import { TOOL_CLASSES } from '../src/domain/tool-classes.js';
import { detectionMetrics, type GroundTruth, type Prediction } from '../src/ml/evaluation.js';
import { agnosticNmsFor } from '../src/ml/detector.js';
import { createOnnxDetector } from '../src/ml/onnx-detector.js';
import { renderScene, toolsRemoved } from '../src/synth/scene.js';

const { values } = parseArgs({
  options: {
    count: { type: 'string', default: '300' },
    seed: { type: 'string', default: '9000000' },
    model: { type: 'string' },
    confidence: { type: 'string' },
  },
});
const COUNT = Number(values.count);
const SEED = Number(values.seed);
if (SEED >= 1_000_000 && SEED < 3_000_000) {
  console.error('--seed overlaps the training seeds (1,000,000–2,999,999); pick held-out seeds');
  process.exit(2);
}

const config = loadConfig({ ...process.env, LOG_LEVEL: 'silent' });
const modelPath = values.model ?? config.model.path;
const detector = await createOnnxDetector({ modelPath });
const knownKeys = new Set(TOOL_CLASSES.map((c) => c.key));
const noAliases = new Map<string, string>();
const referenceKit = TOOL_CLASSES.map((c) => ({ classKey: c.key, toolName: c.name, quantity: 1 }));
const CONFIDENCE = Number(values.confidence ?? config.recognition.defaultConfidence);
if (!(CONFIDENCE > 0 && CONFIDENCE < 1)) {
  console.error('--confidence must be between 0 and 1');
  process.exit(2);
}
const THRESHOLDS = [...new Set([0.3, 0.4, CONFIDENCE, 0.5, 0.6, 0.7])].sort((a, b) => a - b);
const AGNOSTIC = agnosticNmsFor(config.recognition.nmsAgnostic, detector.info);
const names = new Map(Object.entries(detector.info.names).map(([id, name]) => [Number(id), name]));

console.log(`model ${modelPath} (sha256 ${detector.info.sha256.slice(0, 16)}…, imgsz ${detector.info.imgsz.join('×')}, NMS ${AGNOSTIC ? 'across classes' : 'per class'})`);
console.log(`${COUNT} held-out scenes from seed ${SEED}: even = full kit with 0–2 tools removed, odd = random mix\n`);

const truths: GroundTruth[] = [];
const predictions: Prediction[] = [];
type Comparison = ReturnType<typeof compareKit>;
const summary = (c: Comparison) => JSON.stringify([c.missing.map((m) => [m.class_key, m.count]), c.extra.map((m) => [m.class_key, m.count])]);
/** Per confidence threshold: the service's threshold policy at it, and the verdict tallies. */
const tallies = new Map(
  THRESHOLDS.map((t) => [
    t,
    {
      policy: { requestConfidence: t, classThresholds: new Map<string, number>(), reviewFloor: config.recognition.reviewFloor },
      right: 0,
      /** Right verdicts among the full-kit scenes (even) and the random mixes (odd). */
      rightByKind: { full: 0, random: 0 },
      manualChecks: 0,
      falseComplete: 0,
      falseAlarms: 0,
    },
  ]),
);
let completeKits = 0;
let incompleteKits = 0;
const wrong: string[] = [];
const started = performance.now();
for (let i = 0; i < COUNT; i++) {
  const seed = SEED + i;
  const without = i % 2 === 0 ? toolsRemoved(seed, 2) : [];
  const scene = await renderScene({ seed, kit: i % 2 === 0 ? 'full' : 'random', without });
  for (const o of scene.objects) truths.push({ image: i, classId: o.classId, box: o.box });

  const result = await detector.detect(scene.jpeg, { confidence: 0.001, iou: config.recognition.nmsIou, agnostic: AGNOSTIC });
  for (const d of result.detections) predictions.push({ image: i, classId: d.classId, confidence: d.confidence, box: d.box });

  const expected = compareKit(
    referenceKit,
    scene.objects.map((o) => ({ classKey: o.key, confidence: 1, uncertain: false })),
    { matchThreshold: config.recognition.matchThreshold },
  );
  if (expected.status === 'success') completeKits++;
  if (expected.missing.length > 0) incompleteKits++;
  for (const [threshold, tally] of tallies) {
    // The verdict as the service computes it (no aliases: the model's names are the tool keys).
    const classified = classifyDetections(result.detections, noAliases, knownKeys, tally.policy);
    const comparison = compareKit(
      referenceKit,
      classified.map((c) => ({ classKey: c.classKey, confidence: c.detection.confidence, uncertain: c.uncertain })),
      { matchThreshold: config.recognition.matchThreshold },
    );
    if (comparison.status === 'manual_check') tally.manualChecks++;
    // The error that matters most in tool control: a kit reported complete while a tool is missing.
    if (comparison.status === 'success' && expected.missing.length > 0) tally.falseComplete++;
    if (expected.status === 'success' && comparison.status !== 'success') tally.falseAlarms++;
    if (summary(comparison) === summary(expected)) {
      tally.right++;
      tally.rightByKind[i % 2 === 0 ? 'full' : 'random']++;
    } else if (threshold === CONFIDENCE && wrong.length < 10) wrong.push(`seed ${seed}: expected ${summary(expected)}, got ${summary(comparison)}`);
  }
}
const seconds = (performance.now() - started) / 1000;
await detector.close();

const metrics = detectionMetrics(predictions, truths, [...names.keys()], CONFIDENCE);
const pad = (s: string, n: number) => s.padEnd(n);
const num = (n: number) => n.toFixed(3).padStart(8);
console.log(`${pad('class', 30)} ${'objects'.padStart(8)} ${'P'.padStart(8)} ${'R'.padStart(8)} ${'AP50'.padStart(8)} ${'AP50-95'.padStart(8)}`);
for (const m of metrics) {
  console.log(`${pad(names.get(m.classId) ?? String(m.classId), 30)} ${String(m.truths).padStart(8)} ${num(m.precision)} ${num(m.recall)} ${num(m.ap50)} ${num(m.ap50_95)}`);
}
const mean = (f: (m: (typeof metrics)[number]) => number) => metrics.reduce((a, m) => a + f(m), 0) / metrics.length;
console.log(`${pad('all', 30)} ${String(truths.length).padStart(8)} ${num(mean((m) => m.precision))} ${num(mean((m) => m.recall))} ${num(mean((m) => m.ap50))} ${num(mean((m) => m.ap50_95))}`);
const chosen = tallies.get(CONFIDENCE)!;
console.log(
  `\nkit-level verdict accuracy at confidence ${CONFIDENCE}: ${(chosen.right / COUNT).toFixed(3)} ` +
    `(${chosen.right}/${COUNT} scenes with exactly the right missing and extra tools; ${chosen.manualChecks} sent to manual check)`,
);
const fullScenes = Math.ceil(COUNT / 2);
console.log(
  `  kits laid out (0–2 tools removed): ${(chosen.rightByKind.full / fullScenes).toFixed(3)} (${chosen.rightByKind.full}/${fullScenes}); ` +
    `random piles: ${(chosen.rightByKind.random / (COUNT - fullScenes)).toFixed(3)} (${chosen.rightByKind.random}/${COUNT - fullScenes})`,
);
console.log(`minimum class AP50: ${Math.min(...metrics.map((m) => m.ap50)).toFixed(3)}`);
console.log(
  `kits reported complete with a tool missing: ${chosen.falseComplete} of ${incompleteKits} scenes with tools missing; ` +
    `complete kits not passed: ${chosen.falseAlarms} of ${completeKits}`,
);
console.log('\nconfidence   verdicts right   complete with a tool missing   complete kits not passed');
for (const [threshold, t] of tallies) {
  console.log(
    `${threshold.toFixed(2).padStart(10)}   ${(t.right / COUNT).toFixed(3).padStart(14)}   ${`${t.falseComplete}/${incompleteKits}`.padStart(28)}   ${`${t.falseAlarms}/${completeKits}`.padStart(24)}`,
  );
}
console.log(`${(COUNT / seconds).toFixed(1)} scenes/s (render + recognise)`);
if (wrong.length > 0) console.log(`\nfirst wrong verdicts:\n  ${wrong.join('\n  ')}`);

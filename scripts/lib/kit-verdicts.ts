/**
 * Kit-level verdicts of scenes whose contents are known, as the service reaches them:
 * the detections classified by the service's threshold policy at a given confidence
 * (no aliases: the default model's names are the tool keys), compared with the
 * reference kit (one of each of the 11 tools). A verdict is right when its missing and
 * extra tools are exactly those of the scene. Shared by eval:model and calibrate:model.
 */
import { classifyDetections, type ThresholdPolicy } from '../../src/domain/detection-classification.js';
import { compareKit } from '../../src/domain/kit-comparison.js';
import { TOOL_CLASSES } from '../../src/domain/tool-classes.js';
import type { RawDetection } from '../../src/ml/detector.js';

export type SceneKind = 'full' | 'random';

export interface VerdictTally {
  policy: ThresholdPolicy;
  scenes: number;
  right: number;
  /** Right verdicts among laid-out kits and among random piles (scenes added with their kind). */
  rightByKind: Record<SceneKind, number>;
  manualChecks: number;
  /** The error that matters most in tool control: a kit reported complete while a tool is missing. */
  falseComplete: number;
  /** Complete kits not passed. */
  falseAlarms: number;
}

const KNOWN_KEYS = new Set<string>(TOOL_CLASSES.map((c) => c.key));
const NO_ALIASES = new Map<string, string>();
const REFERENCE_KIT = TOOL_CLASSES.map((c) => ({ classKey: c.key, toolName: c.name, quantity: 1 }));

type Comparison = ReturnType<typeof compareKit>;
const verdictOf = (c: Comparison) => JSON.stringify([c.missing.map((m) => [m.class_key, m.count]), c.extra.map((m) => [m.class_key, m.count])]);

export function createVerdictTallies(options: { thresholds: readonly number[]; reviewFloor: number; matchThreshold: number }) {
  const tallies = new Map<number, VerdictTally>(
    [...new Set(options.thresholds)]
      .sort((a, b) => a - b)
      .map((t) => [
        t,
        {
          policy: { requestConfidence: t, classThresholds: new Map<string, number>(), reviewFloor: options.reviewFloor },
          scenes: 0,
          right: 0,
          rightByKind: { full: 0, random: 0 },
          manualChecks: 0,
          falseComplete: 0,
          falseAlarms: 0,
        },
      ]),
  );
  let completeKits = 0;
  let incompleteKits = 0;

  return {
    tallies,
    get completeKits() {
      return completeKits;
    },
    get incompleteKits() {
      return incompleteKits;
    },
    /** The verdicts by confidence as a table (confidences with `decimals` digits). */
    table(decimals: number): string {
      const rows = [...tallies].map(
        ([threshold, t]) =>
          `${threshold.toFixed(decimals).padStart(10)}   ${(t.right / t.scenes).toFixed(3).padStart(14)}   ` +
          `${`${t.falseComplete}/${incompleteKits}`.padStart(28)}   ${`${t.falseAlarms}/${completeKits}`.padStart(24)}`,
      );
      return ['confidence   verdicts right   complete with a tool missing   complete kits not passed', ...rows].join('\n');
    },
    /**
     * Tallies one scene: `truth` holds the tool key of every tool in it, `detections` what the
     * detector returned at a confidence below every threshold. Returns the thresholds at which
     * the verdict was wrong, with the expected and the given verdict.
     */
    add(kind: SceneKind | null, truth: readonly string[], detections: readonly RawDetection[]): Array<{ threshold: number; expected: string; got: string }> {
      const expected = compareKit(
        REFERENCE_KIT,
        truth.map((classKey) => ({ classKey, confidence: 1, uncertain: false })),
        { matchThreshold: options.matchThreshold },
      );
      if (expected.status === 'success') completeKits++;
      if (expected.missing.length > 0) incompleteKits++;
      const wrong: Array<{ threshold: number; expected: string; got: string }> = [];
      for (const [threshold, tally] of tallies) {
        const classified = classifyDetections(detections, NO_ALIASES, KNOWN_KEYS, tally.policy);
        const comparison = compareKit(
          REFERENCE_KIT,
          classified.map((c) => ({ classKey: c.classKey, confidence: c.detection.confidence, uncertain: c.uncertain })),
          { matchThreshold: options.matchThreshold },
        );
        tally.scenes++;
        if (comparison.status === 'manual_check') tally.manualChecks++;
        if (comparison.status === 'success' && expected.missing.length > 0) tally.falseComplete++;
        if (expected.status === 'success' && comparison.status !== 'success') tally.falseAlarms++;
        if (verdictOf(comparison) === verdictOf(expected)) {
          tally.right++;
          if (kind) tally.rightByKind[kind]++;
        } else wrong.push({ threshold, expected: verdictOf(expected), got: verdictOf(comparison) });
      }
      return wrong;
    },
  };
}

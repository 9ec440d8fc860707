import { describe, expect, it } from 'vitest';
import { TOOL_CLASSES } from '../../src/domain/tool-classes.js';
import type { RawDetection } from '../../src/ml/detector.js';
import { createVerdictTallies } from '../../scripts/lib/kit-verdicts.js';

const ALL: string[] = TOOL_CLASSES.map((c) => c.key);
const seen = (key: string, confidence = 0.9): RawDetection => ({
  classId: ALL.indexOf(key),
  className: key,
  confidence,
  box: { x1: 0, y1: 0, x2: 10, y2: 10 },
});

describe('kit verdict tallies (eval:model, calibrate:model)', () => {
  it('counts right verdicts, kits called complete with a tool missing, and complete kits not passed, per confidence', () => {
    const verdicts = createVerdictTallies({ thresholds: [0.4, 0.5], reviewFloor: 0.25, matchThreshold: 95 });
    // A complete kit, every tool seen with confidence: right at both.
    expect(verdicts.add('full', ALL, ALL.map((k) => seen(k)))).toEqual([]);
    // The pliers are gone, but their empty cut-out scores 0.45: at 0.4 the kit passes as complete.
    const withoutPliers = ALL.filter((k) => k !== 'pliers');
    const wrong = verdicts.add('full', withoutPliers, [...withoutPliers.map((k) => seen(k)), seen('pliers', 0.45)]);
    expect(wrong).toEqual([{ threshold: 0.4, expected: JSON.stringify([[['pliers', 1]], []]), got: JSON.stringify([[], []]) }]);
    // A random pile with two braces, one of them seen only at 0.3 (uncertain, and no missing tool hangs on it): wrong at both.
    const pile = ['brace', 'brace', 'pliers'];
    expect(verdicts.add('random', pile, [seen('brace'), seen('brace', 0.3), seen('pliers')]).map((w) => w.threshold)).toEqual([0.4, 0.5]);
    // A complete kit whose side cutters score 0.45: at 0.5 they need a look, so the kit is not passed.
    expect(verdicts.add('full', ALL, ALL.map((k) => seen(k, k === 'side_cutters' ? 0.45 : 0.9))).map((w) => w.threshold)).toEqual([0.5]);
    // A scene without its kind (calibration data) counts overall only.
    verdicts.add(null, ALL, ALL.map((k) => seen(k)));

    const at = (t: number) => verdicts.tallies.get(t)!;
    expect(verdicts.completeKits).toBe(3);
    expect(verdicts.incompleteKits).toBe(2);
    expect(at(0.4)).toMatchObject({ scenes: 5, right: 3, rightByKind: { full: 2, random: 0 }, falseComplete: 1, falseAlarms: 0, manualChecks: 0 });
    expect(at(0.5)).toMatchObject({ scenes: 5, right: 3, rightByKind: { full: 2, random: 0 }, falseComplete: 0, falseAlarms: 1, manualChecks: 2 });
  });
});

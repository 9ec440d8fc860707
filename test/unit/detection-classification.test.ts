import { describe, expect, it } from 'vitest';
import { classifyDetections, detectorFloor, resolveClassKey } from '../../src/domain/detection-classification.js';

const known = new Set(['pliers', 'shernitsa', 'side_cutters']);
const aliases = new Map([
  ['7', 'shernitsa'],
  ['Шэрница', 'shernitsa'],
  ['cutters', 'side_cutters'],
]);

describe('resolveClassKey', () => {
  it('maps through aliases, accepts known keys, and refuses the rest', () => {
    expect(resolveClassKey('7', aliases, known)).toBe('shernitsa');
    expect(resolveClassKey('Шэрница', aliases, known)).toBe('shernitsa');
    expect(resolveClassKey('pliers', aliases, known)).toBe('pliers');
    expect(resolveClassKey('hammer', aliases, known)).toBeNull();
  });
});

describe('classifyDetections', () => {
  const policy = { requestConfidence: 0.5, classThresholds: new Map([['side_cutters', 0.8]]), reviewFloor: 0.25 };
  const d = (className: string, confidence: number) => ({ className, confidence });

  it('keeps confident, marks uncertain, drops the rest, using per-class thresholds', () => {
    const out = classifyDetections([d('pliers', 0.6), d('pliers', 0.3), d('pliers', 0.2), d('cutters', 0.7), d('cutters', 0.85)], aliases, known, policy);
    expect(out.map((c) => [c.classKey, c.detection.confidence, c.uncertain, c.threshold])).toEqual([
      ['pliers', 0.6, false, 0.5],
      ['pliers', 0.3, true, 0.5],
      ['side_cutters', 0.7, true, 0.8],
      ['side_cutters', 0.85, false, 0.8],
    ]);
  });

  it('keeps unmapped classes with the request confidence and no key', () => {
    const out = classifyDetections([d('hammer', 0.9)], aliases, known, policy);
    expect(out).toEqual([{ detection: d('hammer', 0.9), classKey: null, threshold: 0.5, uncertain: false }]);
  });

  it('has no uncertain band when the request confidence is under the floor', () => {
    const out = classifyDetections([d('pliers', 0.15), d('pliers', 0.05)], aliases, known, { ...policy, requestConfidence: 0.1 });
    expect(out.map((c) => c.uncertain)).toEqual([false]);
  });

  it('asks the detector for the lowest confidence that can matter', () => {
    expect(detectorFloor(policy)).toBe(0.25);
    expect(detectorFloor({ ...policy, classThresholds: new Map([['pliers', 0.1]]) })).toBe(0.1);
  });
});

import { describe, expect, it } from 'vitest';
import { compareKit, type CountedDetection, type KitItemExpectation } from '../../src/domain/kit-comparison.js';

const kit: KitItemExpectation[] = [
  { classKey: 'pliers', toolName: 'Пассатижи', quantity: 1 },
  { classKey: 'side_cutters', toolName: 'Бокорезы', quantity: 1 },
  { classKey: 'screwdriver_flat', toolName: 'Отвертка «-»', quantity: 2 },
];
const sure = (classKey: string | null, confidence = 0.9): CountedDetection => ({ classKey, confidence, uncertain: false });
const unsure = (classKey: string, confidence = 0.4): CountedDetection => ({ classKey, confidence, uncertain: true });
const options = { matchThreshold: 95, toolNames: { brace: 'Коловорот' } };

describe('compareKit', () => {
  it('succeeds when every item is found in its quantity', () => {
    const r = compareKit(kit, [sure('pliers'), sure('side_cutters'), sure('screwdriver_flat'), sure('screwdriver_flat')], options);
    expect(r).toMatchObject({ status: 'success', match_percentage: 100, expected_total: 4, found_total: 4, missing: [], extra: [] });
    expect(r.counts).toEqual({ pliers: 1, screwdriver_flat: 2, side_cutters: 1 });
  });

  it('reports a missing tool as a discrepancy with the match percentage', () => {
    const r = compareKit(kit, [sure('pliers'), sure('screwdriver_flat'), sure('screwdriver_flat')], options);
    expect(r.status).toBe('discrepancy');
    expect(r.match_percentage).toBe(75);
    expect(r.missing).toEqual([{ class_key: 'side_cutters', tool_name: 'Бокорезы', expected: 1, found: 0, count: 1 }]);
  });

  it('counts quantities: one of two screwdrivers missing', () => {
    const r = compareKit(kit, [sure('pliers'), sure('side_cutters'), sure('screwdriver_flat')], options);
    expect(r.missing).toEqual([{ class_key: 'screwdriver_flat', tool_name: 'Отвертка «-»', expected: 2, found: 1, count: 1 }]);
    expect(r.match_percentage).toBe(75);
  });

  it('reports extra tools (a duplicate and a class outside the kit) as a discrepancy', () => {
    const r = compareKit(
      kit,
      [sure('pliers'), sure('pliers'), sure('side_cutters'), sure('screwdriver_flat'), sure('screwdriver_flat'), sure('brace')],
      options,
    );
    expect(r.status).toBe('discrepancy');
    expect(r.match_percentage).toBe(100);
    expect(r.extra).toEqual([
      { class_key: 'brace', tool_name: 'Коловорот', expected: 0, found: 1, count: 1 },
      { class_key: 'pliers', tool_name: 'Пассатижи', expected: 1, found: 2, count: 1 },
    ]);
  });

  it('asks for a manual check when uncertain detections could be the missing tools', () => {
    const r = compareKit(kit, [sure('pliers'), unsure('side_cutters', 0.41), sure('screwdriver_flat'), sure('screwdriver_flat')], options);
    expect(r.status).toBe('manual_check');
    expect(r.missing).toHaveLength(1);
    expect(r.uncertain).toEqual([{ class_key: 'side_cutters', tool_name: 'Бокорезы', count: 1, max_confidence: 0.41 }]);
  });

  it('stays a discrepancy when uncertain detections cannot cover every missing tool', () => {
    const r = compareKit(kit, [unsure('side_cutters'), sure('screwdriver_flat'), sure('screwdriver_flat')], options);
    expect(r.status).toBe('discrepancy');
    expect(r.missing.map((m) => m.class_key)).toEqual(['pliers', 'side_cutters']);
  });

  it('needs enough uncertain detections for the missing quantity', () => {
    const r = compareKit(kit, [sure('pliers'), sure('side_cutters'), unsure('screwdriver_flat')], options);
    expect(r.status).toBe('discrepancy');
    const r2 = compareKit(kit, [sure('pliers'), sure('side_cutters'), unsure('screwdriver_flat'), unsure('screwdriver_flat', 0.3)], options);
    expect(r2.status).toBe('manual_check');
    expect(r2.uncertain[0]).toMatchObject({ count: 2, max_confidence: 0.4 });
  });

  it('stays a discrepancy when an extra tool is certain even if the missing ones are uncertain', () => {
    const r = compareKit(kit, [sure('pliers'), sure('brace'), unsure('side_cutters'), sure('screwdriver_flat'), sure('screwdriver_flat')], options);
    expect(r.status).toBe('discrepancy');
  });

  it('does not let uncertain extras change a complete kit', () => {
    const r = compareKit(kit, [sure('pliers'), sure('side_cutters'), sure('screwdriver_flat'), sure('screwdriver_flat'), unsure('brace')], options);
    expect(r.status).toBe('success');
    expect(r.uncertain).toEqual([{ class_key: 'brace', tool_name: 'Коловорот', count: 1, max_confidence: 0.4 }]);
  });

  it('ignores detections that map to no tool', () => {
    const r = compareKit(kit, [sure(null), sure('pliers'), sure('side_cutters'), sure('screwdriver_flat'), sure('screwdriver_flat')], options);
    expect(r.status).toBe('success');
    expect(r.found_total).toBe(4);
  });

  it('adds quantities of two kit items of the same class', () => {
    const r = compareKit(
      [
        { classKey: 'pliers', toolName: 'Пассатижи', quantity: 1 },
        { classKey: 'pliers', toolName: 'Пассатижи', quantity: 1 },
      ],
      [sure('pliers')],
      options,
    );
    expect(r.missing).toEqual([{ class_key: 'pliers', tool_name: 'Пассатижи', expected: 2, found: 1, count: 1 }]);
  });

  it('treats an empty kit as complete unless something is found', () => {
    expect(compareKit([], [], options)).toMatchObject({ status: 'success', match_percentage: 100 });
    expect(compareKit([], [sure('pliers')], options).status).toBe('discrepancy');
  });

  it('requires the match threshold', () => {
    // A threshold above 100 % can never be met: the check stays strict rather than passing.
    expect(compareKit(kit, [sure('pliers'), sure('side_cutters'), sure('screwdriver_flat'), sure('screwdriver_flat')], { matchThreshold: 100.5 }).status).toBe(
      'discrepancy',
    );
  });
});

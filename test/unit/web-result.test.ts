/**
 * The web app's reading of a recorded result (web/src/lib/result.ts): one row per tool with
 * its state, judged from what was recorded, not from the kit as it is now. A row that says
 * "found" or "uncertain" for a tool that is certainly gone would mislead the storekeeper.
 */
import { describe, expect, it } from 'vitest';
import type { components } from '../../web/src/lib/api/schema.js';
import { toolRows } from '../../web/src/lib/result.js';

type Operation = components['schemas']['Operation'];

type Result = Record<string, unknown>;
const op = (result: Result, type: 'checkout' | 'checkin' = 'checkin', status: Operation['status'] = 'discrepancy'): Operation =>
  ({ id: 1, user_id: 2, acted_by_id: 3, toolkit_id: 4, operation_type: type, timestamp: '2026-12-04T10:00:00Z', status, match_percentage: 90, result_json: result, image_url: '/media/a', annotated_image_url: '/media/b', review: null }) as Operation;
const item = (class_key: string, name: string, quantity = 1) => ({ tool_id: 1, class_key, name, serial_number: null, quantity });
const det = (tool_key: string, confidence: number, uncertain = false) => ({ tool_key, class_name: tool_key, tool_name: tool_key, confidence, uncertain, box: { x1: 0, y1: 0, x2: 1, y2: 1 } });
const byKey = (rows: ReturnType<typeof toolRows>) => Object.fromEntries(rows.map((r) => [r.key, r]));

describe('toolRows', () => {
  it('marks a tool missing when the uncertain detections cannot make up the shortfall', () => {
    const rows = byKey(
      toolRows(
        op({
          counts: { wrench: 1 },
          missing_tools: [{ class_key: 'wrench', tool_name: 'Ключ', expected: 3, found: 1, count: 2 }],
          extra_tools: [],
          uncertain: [{ class_key: 'wrench', tool_name: 'Ключ', count: 1, max_confidence: 0.41 }],
          detections: [det('wrench', 0.93), det('wrench', 0.41, true)],
        }),
        { items: [item('wrench', 'Ключ', 3)] },
      ),
    );
    expect(rows.wrench).toMatchObject({ state: 'missing', expected: 3, found: 1, confidence: 0.93 });
  });

  it('calls a tool uncertain only when uncertain detections could be every missing one, with their confidence', () => {
    const rows = byKey(
      toolRows(
        op(
          {
            counts: { pliers: 0 },
            missing_tools: [{ class_key: 'pliers', tool_name: 'Пассатижи', expected: 1, found: 0, count: 1 }],
            extra_tools: [],
            uncertain: [{ class_key: 'pliers', tool_name: 'Пассатижи', count: 1, max_confidence: 0.41 }],
            detections: [det('pliers', 0.41, true)],
          },
          'checkout',
          'manual_check',
        ),
        { items: [item('pliers', 'Пассатижи')] },
      ),
    );
    expect(rows.pliers).toMatchObject({ state: 'uncertain', confidence: 0.41 });
  });

  it('keeps an old verdict when the kit was edited later: a removed tool still shows missing, an added one is not invented', () => {
    const rows = byKey(
      toolRows(
        op({
          counts: { brace: 1 },
          missing_tools: [{ class_key: 'pliers', tool_name: 'Пассатижи', expected: 1, found: 0, count: 1 }],
          extra_tools: [],
          uncertain: [],
          detections: [det('brace', 0.9)],
        }),
        { items: [item('brace', 'Коловорот'), item('side_cutters', 'Бокорезы')] },
      ),
    );
    expect(Object.keys(rows)).toEqual(['brace', 'pliers']);
    expect(rows.pliers).toMatchObject({ state: 'missing', expected: 1, found: 0 });
    expect(rows.brace).toMatchObject({ state: 'found', expected: 1 });
  });

  it('shows a tool lost since checkout as missing, on the list or not', () => {
    const rows = byKey(
      toolRows(
        op({
          counts: { wrench: 1 },
          missing_tools: [],
          extra_tools: [],
          uncertain: [],
          detections: [det('wrench', 0.9)],
          lost_since_checkout: [
            { class_key: 'wrench', tool_name: 'Ключ', count: 1 },
            { class_key: 'oil_can_opener', tool_name: 'Открывашка', count: 1 },
          ],
        }),
        { items: [item('wrench', 'Ключ')] },
      ),
    );
    expect(rows.wrench).toMatchObject({ state: 'missing', lost: 1, found: 1 });
    expect(rows.oil_can_opener).toMatchObject({ state: 'missing', lost: 1, expected: 0, found: 0, name: 'Открывашка' });
  });

  it('marks extras of a kit tool and tools the kit does not hold', () => {
    const rows = toolRows(
      op({
        counts: { brace: 2, pliers: 1 },
        missing_tools: [],
        extra_tools: [
          { class_key: 'brace', tool_name: 'Коловорот', expected: 1, found: 2, count: 1 },
          { class_key: 'pliers', tool_name: 'Пассатижи', expected: 0, found: 1, count: 1 },
        ],
        uncertain: [],
        detections: [det('brace', 0.8), det('brace', 0.7), det('pliers', 0.95)],
      }),
      { items: [item('brace', 'Коловорот')] },
    );
    expect(rows.map((r) => [r.key, r.state, r.expected, r.found])).toEqual([
      ['brace', 'extra', 1, 2],
      ['pliers', 'extra', 0, 1],
    ]);
  });

  it('tags at checkin what was already missing when the kit went out, and nothing on the checkout itself', () => {
    const checkout = op(
      {
        counts: {},
        missing_tools: [{ class_key: 'pliers', tool_name: 'Пассатижи', expected: 1, found: 0, count: 1 }],
        extra_tools: [],
        uncertain: [],
        detections: [],
        missing_at_checkout: [{ class_key: 'pliers', tool_name: 'Пассатижи', expected: 1, found: 0, count: 1 }],
      },
      'checkout',
    );
    const checkin = op({
      counts: {},
      missing_tools: [{ class_key: 'pliers', tool_name: 'Пассатижи', expected: 1, found: 0, count: 1 }],
      extra_tools: [],
      uncertain: [],
      detections: [],
      lost_since_checkout: [],
      checkout_operation_id: 1,
    });
    const kit = { items: [item('pliers', 'Пассатижи')] };
    expect(toolRows(checkin, kit, checkout)[0]).toMatchObject({ state: 'missing', missingAtCheckout: 1, lost: 0 });
    expect(toolRows(checkout, kit)[0]).toMatchObject({ state: 'missing', missingAtCheckout: 0 });
  });
});

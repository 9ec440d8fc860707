/**
 * seed 000's found_tools and ml_predictions from toolcontrol's detections: a client that
 * reads "missing = kit − found_tools" must see every shortfall, also for two tools of one
 * class and for quantities above one.
 */
import { describe, expect, it } from 'vitest';
import { seedPredictFields, type SeedRegister } from '../../src/services/seed-fields.js';

const tool = (id: number, classKey: string, quantity = 1) => ({ id, name: `tool ${id}`, serialNumber: null, category: null, classKey, quantity });
const detections = (...keys: Array<string | null>) => keys.map((tool_key) => ({ tool_key, uncertain: false }));
const prediction = (keys: Array<string | null>, status = 'discrepancy') =>
  ({ detections: detections(...keys), comparison: { status }, image_url: '/media/x.jpg', timings_ms: { inference: 12 } }) as unknown as Parameters<typeof seedPredictFields>[0];
const register = (kitTools: SeedRegister['kitTools']): SeedRegister => ({ kitTools, toolIdByClass: new Map([['brace', 9]]) });

describe('seedPredictFields', () => {
  it('lists only the tools whose whole quantity was seen: one wrench of two is one tool found', () => {
    const fields = seedPredictFields(prediction(['wrench']), register([tool(3, 'wrench'), tool(4, 'wrench')]));
    expect(fields.found_tools.map((t) => t.id)).toEqual([3]);
    expect(fields.ml_predictions).toEqual([3]);
    expect(fields.hand_check).toBe(true);
  });

  it('gives each detection of a class its own kit tool, in id order', () => {
    const fields = seedPredictFields(prediction(['wrench', 'wrench'], 'success'), register([tool(3, 'wrench'), tool(4, 'wrench')]));
    expect(fields.found_tools.map((t) => t.id)).toEqual([3, 4]);
    expect(fields.ml_predictions).toEqual([3, 4]);
    expect(fields.hand_check).toBe(false);
  });

  it('does not list a tool of quantity 2 seen once', () => {
    const fields = seedPredictFields(prediction(['pliers']), register([tool(5, 'pliers', 2)]));
    expect(fields.found_tools).toEqual([]);
    expect(fields.ml_predictions).toEqual([5]);
  });

  it('maps extras and classes the kit lacks, and leaves out what maps to no tool', () => {
    const fields = seedPredictFields(prediction(['wrench', 'wrench', 'brace', null, 'unknown']), register([tool(3, 'wrench')]));
    expect(fields.found_tools.map((t) => t.id)).toEqual([3]);
    expect(fields.ml_predictions).toEqual([3, 3, 9]);
    expect(fields.found_tools[0]).toMatchObject({ serial_number: '', category: '' });
  });
});

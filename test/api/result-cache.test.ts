/**
 * The detection-result cache: a repeated photo skips inference (timings_ms.cache 'hit'),
 * the kit comparison is recomputed every time, other thresholds miss, and a Redis
 * outage only means misses.
 */
import net from 'node:net';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRedisCache } from '../../src/cache/redis-cache.js';
import { createRedisClient } from '../../src/cache/redis-client.js';
import { createDetectionCache } from '../../src/services/result-cache.js';
import { buildTestApp, type TestApp } from '../helpers/app.js';
import { TEST_REDIS_URL } from '../helpers/databases.js';
import { createScriptedDetector, FULL_KIT, solidJpeg } from '../helpers/fake-detector.js';
import { multipartBody } from '../helpers/multipart.js';

describe('detection result cache through /predict/', () => {
  let t: TestApp;
  let auth: Record<string, string>;
  let kitId: number;
  const detector = createScriptedDetector(() => FULL_KIT);

  beforeAll(async () => {
    t = await buildTestApp({ overrides: { detector } });
    auth = { authorization: `Bearer ${await t.login()}` };
    kitId = (await t.app.inject({ url: '/api/v1/toolkits', headers: auth })).json().items[0].id;
  });
  afterAll(() => t?.close());

  const predict = async (image: Buffer, fields: Record<string, number> = {}) => {
    const body = await multipartBody({ toolkit_id: kitId, ...fields }, [{ field: 'image', data: image }]);
    const res = await t.app.inject({ method: 'POST', url: '/predict/', headers: { ...auth, ...body.headers }, payload: body.payload });
    expect(res.statusCode, res.body).toBe(200);
    return res.json();
  };

  it('answers a repeated photo from the cache and still compares it with the kit as it is now', async () => {
    const photo = await solidJpeg([1, 2, 3]);
    const calls = detector.calls;
    const first = await predict(photo);
    expect(first.timings_ms.cache).toBe('miss');
    const second = await predict(photo);
    expect(second.timings_ms).toMatchObject({ cache: 'hit', inference: 0 });
    expect(detector.calls).toBe(calls + 1);
    expect(second.detections).toEqual(first.detections);
    expect(second.comparison.status).toBe('success');

    // The kit changes (two pliers now): the cached detections are compared with the new contents.
    const kit = (await t.app.inject({ url: `/api/v1/toolkits/${kitId}`, headers: auth })).json();
    const items = (kit.items as Array<{ tool_id: number; class_key: string; quantity: number }>).map((i) => ({
      tool_id: i.tool_id,
      quantity: i.class_key === 'pliers' ? 2 : i.quantity,
    }));
    const put = (payload: Record<string, unknown>) => t.app.inject({ method: 'PUT', url: `/api/v1/toolkits/${kitId}/items`, headers: auth, payload });
    expect((await put({ items })).statusCode).toBe(200);
    const third = await predict(photo);
    expect(third.timings_ms.cache).toBe('hit');
    expect(third.comparison.missing).toEqual([expect.objectContaining({ class_key: 'pliers', count: 1 })]);
    expect((await put({ items: kit.items.map((i: { tool_id: number; quantity: number }) => ({ tool_id: i.tool_id, quantity: i.quantity })) })).statusCode).toBe(200);

    // Other thresholds are another key.
    const stricter = await predict(photo, { confidence: 0.8 });
    expect(stricter.timings_ms.cache).toBe('miss');
    expect(detector.calls).toBe(calls + 2);
  });
});

describe('createDetectionCache', () => {
  const logger = pino({ level: 'silent' });
  const thresholds = { confidence: 0.5, reviewFloor: 0.25, classThresholds: new Map([['pliers', 0.7]]) };

  it('bypasses the cache while Redis is down (misses, no errors)', async () => {
    // A port nobody listens on.
    const port = await new Promise<number>((resolve) => {
      const srv = net.createServer().listen(0, '127.0.0.1', () => {
        const { port: p } = srv.address() as net.AddressInfo;
        srv.close(() => resolve(p));
      });
    });
    const client = createRedisClient(`redis://127.0.0.1:${port}`, logger);
    try {
      const detector = createScriptedDetector(() => FULL_KIT);
      const cache = createDetectionCache({ cache: createRedisCache(client, logger), ttlSeconds: 60, logger });
      const photo = await solidJpeg([9, 9, 9]);
      const a = await cache.detect(detector, photo, { confidence: 0.25 }, thresholds);
      const b = await cache.detect(detector, photo, { confidence: 0.25 }, thresholds);
      expect([a.cache, b.cache]).toEqual(['miss', 'miss']);
      expect(detector.calls).toBe(2);
      expect(b.detections).toHaveLength(FULL_KIT.length);
    } finally {
      client.disconnect();
    }
  });

  it.skipIf(!TEST_REDIS_URL)('shares hits through Redis (another process sees them)', async () => {
    const a = createRedisClient(TEST_REDIS_URL!, logger);
    const b = createRedisClient(TEST_REDIS_URL!, logger);
    try {
      const detector = createScriptedDetector(() => FULL_KIT);
      const photo = await solidJpeg([Date.now() % 255, 7, 7]);
      const distinct = { ...thresholds, confidence: Math.random() / 2 + 0.3 };
      const first = await createDetectionCache({ cache: createRedisCache(a, logger), ttlSeconds: 60, logger }).detect(detector, photo, { confidence: 0.25 }, distinct);
      const second = await createDetectionCache({ cache: createRedisCache(b, logger), ttlSeconds: 60, logger }).detect(detector, photo, { confidence: 0.25 }, distinct);
      expect([first.cache, second.cache]).toEqual(['miss', 'hit']);
      expect(second.detections).toEqual(first.detections);
      expect(second.image).toEqual(first.image);
      expect(detector.calls).toBe(1);
    } finally {
      a.disconnect();
      b.disconnect();
    }
  });
});

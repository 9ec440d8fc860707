/**
 * GET /metrics: access rules, the series the operations issue lists, and values that move
 * when the app does work (requests, recognitions, cache reads, outages of PostgreSQL and Redis).
 */
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TOOL_CLASSES } from '../../src/domain/tool-classes.js';
import type { Detector, DetectionResult } from '../../src/ml/detector.js';
import { classifyDatabaseError, instrumentOperations } from '../../src/metrics/instrument.js';
import { createMetrics } from '../../src/metrics/metrics.js';
import { openDatabase } from '../../src/db/client.js';
import { buildTestApp, type TestApp } from '../helpers/app.js';
import { createPostgresDatabase, silentLogger, TEST_DATABASE_URL, TEST_REDIS_URL } from '../helpers/databases.js';
import { createTcpProxy } from '../helpers/tcp-proxy.js';

const TOKEN = 'metrics-token-0123456789';

/** Every tool of the reference kit, once, with high confidence. */
function fullKitDetector(): Detector & { inFlight: number } {
  const names = Object.fromEntries(TOOL_CLASSES.map((c, i) => [i, c.key]));
  return {
    inFlight: 0,
    info: { sha256: 'e'.repeat(64), path: '/models/fake.onnx', task: 'detect', names, imgsz: [320, 320], stride: 32, batch: 1 },
    async detect(): Promise<DetectionResult> {
      return {
        detections: TOOL_CLASSES.map((c, i) => ({
          classId: i,
          className: c.key,
          confidence: 0.9,
          box: { x1: 10 * i, y1: 10, x2: 10 * i + 8, y2: 40 },
        })),
        image: { width: 200, height: 100 },
        timings: { decode: 2, inference: 30, postprocess: 1, queue: 0 },
      };
    },
    close: async () => undefined,
  };
}

/** The value of one sample line, e.g. sample(text, 'x_total', { a: '1' }); 0 when absent. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number {
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const match = /^([a-zA-Z_:][\w:]*)(\{(.*)\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const found = Object.fromEntries([...(match[3] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1], m[2]]));
    if (Object.entries(labels).every(([k, v]) => found[k] === v)) return Number(match[4]);
  }
  return 0;
}

async function scrape(t: TestApp, headers: Record<string, string> = {}): Promise<string> {
  const res = await t.app.inject({ url: '/metrics', headers });
  expect(res.statusCode, res.body).toBe(200);
  return res.body;
}

describe('GET /metrics', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await buildTestApp({ overrides: { detector: fullKitDetector() } });
  });
  afterAll(() => t?.close());

  it('answers loopback clients in the Prometheus text format with every listed series', async () => {
    const res = await t.app.inject({ url: '/metrics' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    for (const name of [
      'toolcontrol_http_request_duration_seconds',
      'toolcontrol_inference_duration_seconds',
      'toolcontrol_inference_failures_total',
      'toolcontrol_inference_in_flight',
      'toolcontrol_remote_inference_requests_total',
      'toolcontrol_recognitions_total',
      'toolcontrol_operations_total',
      'toolcontrol_cache_hits_total',
      'toolcontrol_cache_misses_total',
      'toolcontrol_db_errors_total',
      'toolcontrol_redis_errors_total',
      'toolcontrol_jobs_total',
      'toolcontrol_job_duration_seconds',
      'toolcontrol_job_wait_seconds',
      'toolcontrol_job_queue_depth',
      'toolcontrol_process_cpu_seconds_total',
    ]) {
      expect(res.body, name).toMatch(new RegExp(`^# TYPE ${name} `, 'm'));
    }
    // Every series carries the prefix.
    const names = [...res.body.matchAll(/^# TYPE (\S+)/gm)].map((m) => m[1]!);
    expect(names.filter((n) => !n.startsWith('toolcontrol_'))).toEqual([]);
  });

  it('counts requests by route pattern, method and status', async () => {
    const labels = { method: 'GET', route: '/base/health', status_code: '200' };
    const before = sample(await scrape(t), 'toolcontrol_http_request_duration_seconds_count', labels);
    await t.app.inject({ url: '/base/health' });
    await t.app.inject({ url: '/base/health?verbose=1' });
    await t.app.inject({ url: '/no/such/page/12345' });
    const text = await scrape(t);
    expect(sample(text, 'toolcontrol_http_request_duration_seconds_count', labels)).toBe(before + 2);
    expect(sample(text, 'toolcontrol_http_request_duration_seconds_count', { route: 'unmatched', status_code: '404' })).toBeGreaterThanOrEqual(1);
    expect(text).not.toContain('verbose=1');
    expect(text).not.toContain('12345');
  });

  it('observes inference time, recognition verdicts and in-flight images', async () => {
    const before = await scrape(t);
    const image = await sharp({ create: { width: 200, height: 100, channels: 3, background: '#888' } }).jpeg().toBuffer();
    const recognition = await t.deps.services.recognition.recognize({ image, toolkitId: 1 });
    expect(recognition.comparison.status).toBe('success');
    const after = await scrape(t);
    const inference = { backend: 'onnx', stage: 'inference' };
    expect(sample(after, 'toolcontrol_inference_duration_seconds_count', inference)).toBe(
      sample(before, 'toolcontrol_inference_duration_seconds_count', inference) + 1,
    );
    expect(sample(after, 'toolcontrol_inference_duration_seconds_sum', inference)).toBeCloseTo(
      sample(before, 'toolcontrol_inference_duration_seconds_sum', inference) + 0.03,
      6,
    );
    expect(sample(after, 'toolcontrol_recognitions_total', { status: 'success' })).toBe(
      sample(before, 'toolcontrol_recognitions_total', { status: 'success' }) + 1,
    );
    expect(after).toMatch(/^toolcontrol_inference_in_flight\{backend="onnx"\} 0$/m);
  });

  it('counts detector failures by code', async () => {
    await expect(t.deps.services.recognition.recognize({ image: Buffer.from('x'), toolkitId: 999_999 })).rejects.toMatchObject({
      status: 404,
    });
    // The kit lookup failed before the detector ran: no failure counted. A failing detector is.
    const failing: Detector = { ...fullKitDetector(), detect: () => Promise.reject(new Error('boom')) };
    const metrics = createMetrics({ defaultMetrics: false });
    const { instrumentDetector } = await import('../../src/metrics/instrument.js');
    await expect(instrumentDetector(failing, metrics, 'onnx').detect(Buffer.alloc(1), { confidence: 0.5 })).rejects.toThrow('boom');
    expect(sample((await metrics.render()).body, 'toolcontrol_inference_failures_total', { backend: 'onnx', code: 'internal' })).toBe(1);
  });

  it('counts cache hits and misses by key space', async () => {
    const before = await scrape(t);
    await t.deps.cache.get('result:abc');
    await t.deps.cache.set('result:abc', '1', 60);
    await t.deps.cache.get('result:abc');
    const after = await scrape(t);
    expect(sample(after, 'toolcontrol_cache_misses_total', { keyspace: 'result' })).toBe(
      sample(before, 'toolcontrol_cache_misses_total', { keyspace: 'result' }) + 1,
    );
    expect(sample(after, 'toolcontrol_cache_hits_total', { keyspace: 'result' })).toBe(
      sample(before, 'toolcontrol_cache_hits_total', { keyspace: 'result' }) + 1,
    );
  });

  it('exposes what the jobs code reports: throughput, duration, wait and queue depth', async () => {
    const { metrics } = t.deps;
    metrics.registerQueueDepth('batch', async () => ({ waiting: 3, active: 1 }));
    metrics.registerQueueDepth('broken', async () => {
      throw new Error('Redis down');
    });
    // A reader that never answers (BullMQ while Redis is away) is skipped, not waited for.
    metrics.registerQueueDepth('stuck', () => new Promise(() => undefined));
    metrics.jobs.inc({ queue: 'batch', outcome: 'completed' });
    metrics.jobDuration.observe({ queue: 'batch' }, 4.2);
    metrics.jobWait.observe({ queue: 'batch' }, 0.3);
    const text = await scrape(t);
    expect(sample(text, 'toolcontrol_jobs_total', { queue: 'batch', outcome: 'completed' })).toBe(1);
    expect(sample(text, 'toolcontrol_job_duration_seconds_count', { queue: 'batch' })).toBe(1);
    expect(sample(text, 'toolcontrol_job_wait_seconds_sum', { queue: 'batch' })).toBeCloseTo(0.3);
    expect(sample(text, 'toolcontrol_job_queue_depth', { queue: 'batch', state: 'waiting' })).toBe(3);
    expect(text).not.toContain('queue="broken"');
    expect(text).not.toContain('queue="stuck"');
    metrics.registerQueueDepth('stuck', () => ({}));
  });

  it('is refused to clients that are not on the loopback interface, or come through a proxy', async () => {
    const remote = await t.app.inject({ url: '/metrics', remoteAddress: '10.1.2.3' });
    expect(remote.statusCode).toBe(403);
    expect(remote.headers['content-type']).toContain('application/problem+json');
    expect(remote.json()).toMatchObject({ code: 'metrics.forbidden' });
    const proxied = await t.app.inject({ url: '/metrics', headers: { 'x-forwarded-for': '203.0.113.9' } });
    expect(proxied.statusCode).toBe(403);
    expect((await t.app.inject({ url: '/metrics', remoteAddress: '::1' })).statusCode).toBe(200);
  });

  it('is documented in the OpenAPI document', async () => {
    const doc = (await t.app.inject({ url: '/openapi.json' })).json();
    const op = doc.paths['/metrics'].get;
    expect(op.tags).toContain('service');
    expect(Object.keys(op.responses)).toEqual(expect.arrayContaining(['200', '401', '403']));
  });
});

describe('GET /metrics with METRICS_TOKEN', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await buildTestApp({ env: { METRICS_TOKEN: TOKEN } });
  });
  afterAll(() => t?.close());

  it('needs the bearer token, from anywhere', async () => {
    expect((await t.app.inject({ url: '/metrics' })).statusCode).toBe(401);
    expect((await t.app.inject({ url: '/metrics', headers: { authorization: 'Bearer wrong-token-wrong-token' } })).statusCode).toBe(401);
    const ok = await t.app.inject({ url: '/metrics', remoteAddress: '10.1.2.3', headers: { authorization: `Bearer ${TOKEN}` } });
    expect(ok.statusCode).toBe(200);
    expect(ok.body).toContain('toolcontrol_http_request_duration_seconds');
  });
});

describe('recorded operations', () => {
  it('are counted by type and status by the operations wrapper', async () => {
    const metrics = createMetrics({ defaultMetrics: false });
    const service = instrumentOperations(
      {
        checkout: async () => ({ id: 1, status: 'success' }),
        checkin: async () => ({ id: 2, status: 'discrepancy' }),
        history: async () => [],
      },
      metrics,
    );
    await service.checkout();
    await service.checkin();
    await service.checkin();
    expect(await service.history()).toEqual([]);
    const text = (await metrics.render()).body;
    expect(sample(text, 'toolcontrol_operations_total', { type: 'checkout', status: 'success' })).toBe(1);
    expect(sample(text, 'toolcontrol_operations_total', { type: 'checkin', status: 'discrepancy' })).toBe(2);
  });
});

describe('database and Redis errors', () => {
  it('classifies driver errors', () => {
    expect(classifyDatabaseError(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }))).toBe('connection');
    expect(classifyDatabaseError(new Error('Connection terminated unexpectedly'))).toBe('connection');
    const wrapped = Object.assign(new Error('Failed query: select 1'), { name: 'DrizzleQueryError', cause: Object.assign(new Error('x'), { code: '57P01', severity: 'FATAL' }) });
    expect(classifyDatabaseError(wrapped)).toBe('connection');
    expect(classifyDatabaseError(Object.assign(new Error('syntax'), { code: '42601', severity: 'ERROR' }))).toBe('query');
    expect(classifyDatabaseError(new Error('unrelated'))).toBeNull();
  });

  it.skipIf(!TEST_DATABASE_URL)('counts PostgreSQL connection errors seen by requests', async () => {
    const { url, drop } = await createPostgresDatabase();
    const parsed = new URL(url);
    const proxy = await createTcpProxy({ host: parsed.hostname, port: Number(parsed.port || 5432) });
    const proxied = new URL(url);
    proxied.hostname = '127.0.0.1';
    proxied.port = String(proxy.port);
    const database = await openDatabase({ url: proxied.toString(), pgliteDir: null, logger: silentLogger, poolSize: 2 });
    const t = await buildTestApp({ overrides: { database } });
    try {
      const before = sample(await scrape(t), 'toolcontrol_db_errors_total', { kind: 'connection' });
      await proxy.stop();
      const res = await t.app.inject({ method: 'POST', url: '/auth/login', payload: { employee_number: 'admin', password: 'whatever-password' } });
      expect(res.statusCode).toBeGreaterThanOrEqual(500);
      expect(sample(await scrape(t), 'toolcontrol_db_errors_total', { kind: 'connection' })).toBeGreaterThan(before);
    } finally {
      await proxy.start();
      await t.close();
      await database.close().catch(() => undefined);
      await proxy.stop();
      await drop();
    }
  });

  it.skipIf(!TEST_REDIS_URL)('counts Redis connection errors', async () => {
    const target = new URL(TEST_REDIS_URL!);
    const proxy = await createTcpProxy({ host: target.hostname, port: Number(target.port || 6379) });
    const t = await buildTestApp({ env: { REDIS_URL: `redis://127.0.0.1:${proxy.port}/0` } });
    try {
      // Connected first (the client connects in the background).
      for (let i = 0; i < 50 && !(await t.deps.cache.ping()); i++) await new Promise((r) => setTimeout(r, 100));
      expect(t.deps.redis?.status).toBe('ready');
      await proxy.stop();
      await t.deps.cache.get('result:x'); // fails fast, degrades to a miss
      const deadline = Date.now() + 10_000;
      let errors = 0;
      while (Date.now() < deadline && errors === 0) {
        errors = sample(await scrape(t), 'toolcontrol_redis_errors_total', { kind: 'connection' });
        if (errors === 0) await new Promise((r) => setTimeout(r, 100));
      }
      expect(errors).toBeGreaterThan(0);
    } finally {
      await proxy.start();
      await t.close();
      await proxy.stop();
    }
  });
});

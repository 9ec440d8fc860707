import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestApp } from '../helpers/app.js';
import { buildTestApp } from '../helpers/app.js';
import { tempDir } from '../helpers/config.js';
import { TEST_REDIS_URL } from '../helpers/databases.js';
import { createScriptedDetector } from '../helpers/fake-detector.js';
import { createTcpProxy } from '../helpers/tcp-proxy.js';

describe('service routes', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await buildTestApp();
  });
  afterAll(() => t.close());

  it('GET / names the service, its version and the model status', async () => {
    const res = await t.app.inject({ url: '/' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ name: 'toolcontrol', version: expect.any(String), model: { loaded: false } });
  });

  it('names the model by its file name, never its directory on the server, in / and health', async () => {
    expect(path.isAbsolute(t.config.model.path)).toBe(true);
    for (const url of ['/', '/base/health', '/base/ready']) {
      const res = await t.app.inject({ url });
      expect(res.json().model.path, url).toBe('toolcontrol-yolo.onnx');
      expect(res.body, url).not.toContain(path.dirname(t.config.model.path));
    }
  });

  it('keeps the directory out of the model error too (a missing MODEL_PATH)', async () => {
    const tmp = tempDir('toolcontrol-secret-dir-');
    const missing = await buildTestApp({ env: { MODEL_PATH: path.join(tmp.dir, 'best.onnx') }, overrides: { detector: undefined } });
    try {
      for (const url of ['/', '/base/health']) {
        const res = await missing.app.inject({ url });
        expect(res.json().model, url).toMatchObject({ loaded: false, path: 'best.onnx', error: expect.stringContaining('best.onnx') });
        expect(res.body, url).not.toContain(tmp.dir);
      }
    } finally {
      await missing.close();
      tmp.cleanup();
    }
  });

  it('GET /base/health reports the database, Redis and the model', async () => {
    const res = await t.app.inject({ url: '/base/health' });
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body.postgres).toMatchObject({ ok: true, kind: 'pglite' });
    expect(body.postgres.latency_ms).toBeGreaterThanOrEqual(0);
    expect(body.redis).toBe('not_configured');
    // The seed backend's shape (its base.py), for its clients.
    expect(body.services).toEqual({ postgresql: 'connected', redis: 'not_configured' });
    // No model in this app: the service still serves, degraded.
    expect(body.status).toBe('degraded');
    expect(body.model.loaded).toBe(false);
  });

  it('GET /base/ready is 503 while the model is missing, 200 once everything is up', async () => {
    const notReady = await t.app.inject({ url: '/base/ready' });
    expect(notReady.statusCode).toBe(503);
    expect(notReady.json()).toMatchObject({ status: 'degraded', model: { loaded: false } });

    const withModel = await buildTestApp({ overrides: { detector: createScriptedDetector(() => []) } });
    try {
      const ready = await withModel.app.inject({ url: '/base/ready' });
      expect(ready.statusCode, ready.body).toBe(200);
      expect(ready.json()).toMatchObject({ status: 'ok', model: { loaded: true } });
    } finally {
      await withModel.close();
    }
  });

  it('answers unknown routes with problem+json', async () => {
    const res = await t.app.inject({ url: '/no/such/route' });
    expect(res.statusCode).toBe(404);
    expect(res.headers['content-type']).toContain('application/problem+json');
    expect(res.json()).toMatchObject({ status: 404, title: 'Not Found', code: 'route.not_found', detail: expect.any(String) });
    expect(res.headers['x-request-id']).toBe(res.json().request_id);
  });

  it('echoes a caller-supplied request id', async () => {
    const res = await t.app.inject({ url: '/base/health', headers: { 'x-request-id': 'abc-123' } });
    expect(res.headers['x-request-id']).toBe('abc-123');
  });

  it('serves Swagger UI and an OpenAPI document in which every route declares its schemas', async () => {
    const ui = await t.app.inject({ url: '/docs/' });
    expect(ui.statusCode).toBe(200);
    expect(ui.body).toContain('swagger');

    const res = await t.app.inject({ url: '/openapi.json' });
    expect(res.statusCode).toBe(200);
    const doc = res.json();
    const operations = Object.entries(doc.paths as Record<string, Record<string, any>>).flatMap(([p, methods]) =>
      Object.entries(methods).map(([method, op]) => ({ route: `${method.toUpperCase()} ${p}`, op })),
    );
    expect(operations.length).toBeGreaterThan(2);
    const missing: string[] = [];
    for (const { route, op } of operations) {
      if (!op.responses || Object.keys(op.responses).length === 0) missing.push(`${route}: responses`);
      for (const [status, response] of Object.entries(op.responses ?? {}) as Array<[string, any]>) {
        if (!response.content) missing.push(`${route}: ${status} has no schema`);
      }
      const takesBody = ['POST', 'PUT', 'PATCH'].includes(route.split(' ')[0]!);
      if (takesBody && !op.requestBody) missing.push(`${route}: request body`);
      if (!op.tags?.length) missing.push(`${route}: tags`);
    }
    expect(missing).toEqual([]);
  });
});

describe('service routes with the database down', () => {
  it('answers 503 from health while the database does not answer, 200 once it does', async () => {
    let down = false;
    const t = await buildTestApp();
    const realPing = t.deps.database.ping;
    t.deps.database.ping = (timeout) => (down ? Promise.reject(new Error('connection refused')) : realPing(timeout));
    try {
      down = true;
      const bad = await t.app.inject({ url: '/base/health' });
      expect(bad.statusCode).toBe(503);
      expect(bad.json()).toMatchObject({ status: 'down', postgres: { ok: false, error: 'connection refused' } });
      expect(bad.json().services).toEqual({ postgresql: 'disconnected', redis: 'not_configured' });
      down = false;
      const good = await t.app.inject({ url: '/base/health' });
      expect(good.statusCode).toBe(200);
      expect(good.json().services.postgresql).toBe('connected');
    } finally {
      await t.close();
    }
  });
});

describe.skipIf(!TEST_REDIS_URL)('service routes with Redis', () => {
  it('reports Redis connected, disconnected while it does not answer, and connected again', async () => {
    const target = new URL(TEST_REDIS_URL!);
    const proxy = await createTcpProxy({ host: target.hostname, port: Number(target.port || 6379) });
    const t = await buildTestApp({ env: { REDIS_URL: `redis://127.0.0.1:${proxy.port}/0` } });
    const services = async () => (await t.app.inject({ url: '/base/health' })).json().services;
    const eventually = async (want: string) => {
      for (let i = 0; i < 100 && (await services()).redis !== want; i++) await new Promise((r) => setTimeout(r, 100));
      return services();
    };
    try {
      // The client connects in the background.
      expect(await eventually('connected')).toEqual({ postgresql: 'connected', redis: 'connected' });
      await proxy.stop();
      expect(await eventually('disconnected')).toEqual({ postgresql: 'connected', redis: 'disconnected' });
      const res = await t.app.inject({ url: '/base/health' });
      expect(res.statusCode).toBe(200);
      expect(res.json()).toMatchObject({ status: 'degraded', redis: { ok: false } });
      await proxy.start();
      expect((await eventually('connected')).redis).toBe('connected');
    } finally {
      await t.close();
      await proxy.stop();
    }
  });
});

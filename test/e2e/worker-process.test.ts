/**
 * `src/worker.ts` as a real process on real PostgreSQL and Redis, next to a real API:
 * a worker without a model exits 1 and leaves the queued photos to a worker that has
 * one; a worker with WORKER_METRICS_PORT serves its own job and inference metrics on
 * GET /metrics, behind METRICS_TOKEN as the API's.
 */
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../src/config/index.js';
import { tempDir } from '../helpers/config.js';
import { createPostgresDatabase, flushRedisDatabase, ownRedisDatabase, TEST_DATABASE_URL, TEST_REDIS_URL } from '../helpers/databases.js';
import { until } from '../helpers/wait.js';
import { startEntry, type EntryProcess } from '../helpers/entry-process.js';
import { freePort } from '../helpers/server-process.js';

const METRICS_TOKEN = 'worker-metrics-token-0123456789';

describe.skipIf(!TEST_DATABASE_URL || !TEST_REDIS_URL)('worker process (real Redis, PostgreSQL)', () => {
  let tmp: ReturnType<typeof tempDir>;
  let database: Awaited<ReturnType<typeof createPostgresDatabase>>;
  let redisUrl: string;
  let env: Record<string, string>;
  let baseUrl: string;
  const processes: EntryProcess[] = [];

  beforeAll(async () => {
    tmp = tempDir('toolcontrol-worker-process-');
    database = await createPostgresDatabase();
    redisUrl = await ownRedisDatabase(2);
    env = {
      HOST: '127.0.0.1',
      DATABASE_URL: database.url,
      REDIS_URL: redisUrl,
      DATA_DIR: tmp.dir,
      MODEL_PATH: path.join(PROJECT_ROOT, 'test/fixtures/onnx/detect.onnx'),
      ADMIN_PASSWORD: 'worker-admin-password',
      JWT_SECRET: 'worker-test-secret-worker-test-secret-0123',
      METRICS_TOKEN,
      INFERENCE_THREADS: '1',
    };
    const port = await freePort();
    baseUrl = `http://127.0.0.1:${port}`;
    const api = startEntry('src/main.ts', { ...env, PORT: String(port) });
    processes.push(api);
    await api.waitFor('Server listening', 90_000);
  }, 120_000);

  afterAll(async () => {
    for (const p of processes) {
      p.kill();
      await p.exited;
    }
    await flushRedisDatabase(redisUrl).catch(() => undefined);
    await database?.drop();
    tmp?.cleanup();
  }, 60_000);

  it('a worker without a model exits 1 and takes no photo; one with a model runs them and serves its metrics', async () => {
    const login = await fetch(`${baseUrl}/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ employee_number: 'admin', password: env.ADMIN_PASSWORD }),
    }).then((r) => r.json());
    const auth = { authorization: `Bearer ${login.access_token}` };
    const kitId = (await fetch(`${baseUrl}/api/v1/toolkits`, { headers: auth }).then((r) => r.json())).items[0].id;
    const form = new FormData();
    form.append('toolkit_id', String(kitId));
    for (const [i, colour] of ['#804020', '#208040'].entries()) {
      const photo = await sharp({ create: { width: 320, height: 240, channels: 3, background: colour } }).jpeg().toBuffer();
      form.append('images', new Blob([new Uint8Array(photo)], { type: 'image/jpeg' }), `p${i}.jpg`);
    }
    const submitted = await fetch(`${baseUrl}/api/v1/jobs`, { method: 'POST', headers: auth, body: form });
    expect(submitted.status, await submitted.clone().text()).toBe(202);
    const { job_id: id } = await submitted.json();
    const status = () => fetch(`${baseUrl}/api/v1/jobs/${id}`, { headers: auth }).then((r) => r.json());

    // No model: the worker says why and exits 1 before taking anything.
    const modelless = startEntry('src/worker.ts', { ...env, MODEL_PATH: path.join(tmp.dir, 'missing.onnx') });
    processes.push(modelless);
    const timeout = new Promise<'running'>((resolve) => setTimeout(() => resolve('running'), 60_000).unref());
    const outcome = await Promise.race([modelless.exited, timeout]);
    expect(outcome, modelless.output()).toEqual({ code: 1, signal: null });
    expect(modelless.output()).toMatch(/worker not started: no model loaded/);
    expect(modelless.output()).not.toContain('worker ready');
    expect(await status()).toMatchObject({ state: 'queued', processed: 0, failed: 0 });

    // With a model and WORKER_METRICS_PORT: the photos are recognised, and counted on its /metrics.
    const metricsPort = await freePort();
    const worker = startEntry('src/worker.ts', { ...env, WORKER_METRICS_PORT: String(metricsPort) });
    processes.push(worker);
    await worker.waitFor('worker ready', 90_000);
    const done = await until('the job to finish', async () => {
      const s = await status();
      return ['completed', 'failed', 'cancelled'].includes(s.state) ? s : null;
    });
    expect(done).toMatchObject({ state: 'completed', processed: 2, failed: 0 });

    const metricsUrl = `http://127.0.0.1:${metricsPort}/metrics`;
    const refused = await fetch(metricsUrl);
    expect(refused.status).toBe(401);
    expect(refused.headers.get('content-type')).toContain('application/problem+json');
    expect((await refused.json()).code).toBe('metrics.unauthorized');

    const text = await until('the job counted on the worker metrics', async () => {
      const res = await fetch(metricsUrl, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
      const body = await res.text();
      return /toolcontrol_jobs_total\{[^}]*outcome="completed"[^}]*\} [1-9]/.test(body) ? body : null;
    }, 15_000);
    expect(text).toMatch(/^toolcontrol_job_duration_seconds_count\{[^}]*\} [1-9]/m);
    expect(text).toMatch(/^toolcontrol_inference_duration_seconds_count\{backend="onnx",stage="inference"\} [1-9]/m);
    expect(text).toContain('toolcontrol_job_queue_depth');
    expect(text).toContain('toolcontrol_process_cpu_seconds_total');

    // A graceful stop closes the listener too.
    worker.child.kill('SIGTERM');
    expect(await worker.exited).toEqual({ code: 0, signal: null });
    expect(worker.output()).toContain('worker stopped');
    await expect(fetch(metricsUrl)).rejects.toThrow();
  }, 240_000);
});

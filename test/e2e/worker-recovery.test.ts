/**
 * Real processes on real PostgreSQL and Redis: `npm start` (API, enqueues) and two
 * `npm run worker` processes share a job of 30 photos; one worker is killed with
 * SIGKILL mid-job. The job still completes with exactly 30 results, none twice.
 * The workers run the real entry point with MODEL_PATH on a tiny constant-output ONNX.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import pg from 'pg';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../src/config/index.js';
import { tempDir } from '../helpers/config.js';
import { createPostgresDatabase, flushRedisDatabase, ownRedisDatabase, TEST_DATABASE_URL, TEST_REDIS_URL } from '../helpers/databases.js';
import { until } from '../helpers/wait.js';
import { startServer, type ServerProcess } from '../helpers/server-process.js';
import { buildZip } from '../helpers/zip-builder.js';

interface WorkerProcess {
  child: ChildProcess;
  output(): string;
  exited: Promise<void>;
}

function startWorker(env: Record<string, string>): WorkerProcess {
  let output = '';
  const child = spawn('npm', ['run', '--silent', 'worker'], {
    cwd: PROJECT_ROOT,
    env: { ...process.env, LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true, // own process group: a signal reaches npm, tsx and node alike
  });
  child.stdout!.on('data', (d) => (output += d));
  child.stderr!.on('data', (d) => (output += d));
  const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
  return { child, output: () => output, exited };
}

describe.skipIf(!TEST_DATABASE_URL || !TEST_REDIS_URL)('workers sharing a job (real Redis, PostgreSQL)', () => {
  let tmp: ReturnType<typeof tempDir>;
  let database: Awaited<ReturnType<typeof createPostgresDatabase>>;
  let redisUrl: string;
  let server: ServerProcess | null = null;
  const workers: WorkerProcess[] = [];
  let env: Record<string, string>;

  beforeAll(async () => {
    tmp = tempDir('toolcontrol-workers-');
    database = await createPostgresDatabase();
    redisUrl = await ownRedisDatabase(3);
    env = {
      DATABASE_URL: database.url,
      REDIS_URL: redisUrl,
      DATA_DIR: tmp.dir,
      MODEL_PATH: path.join(PROJECT_ROOT, 'test/fixtures/onnx/detect.onnx'),
      ADMIN_PASSWORD: 'worker-admin-password',
      JWT_SECRET: 'worker-test-secret-worker-test-secret-0123',
      JOB_CONCURRENCY: '2',
      JOB_STALL_MS: '3000',
      INFERENCE_THREADS: '1',
    };
  }, 60_000);

  afterAll(async () => {
    for (const w of workers) {
      try {
        process.kill(-w.child.pid!, 'SIGKILL');
      } catch {
        // gone
      }
    }
    await server?.stop();
    await flushRedisDatabase(redisUrl).catch(() => undefined);
    await database?.drop();
    tmp?.cleanup();
  }, 60_000);

  it('completes a 30-photo job with exactly 30 results after one of two workers is SIGKILLed mid-job', async () => {
    server = await startServer(env, { timeoutMs: 90_000 });
    workers.push(startWorker(env), startWorker(env));
    await until('workers ready', async () => workers.every((w) => w.output().includes('worker ready')), 90_000, 200);

    const login = await fetch(`${server.baseUrl}/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ employee_number: 'admin', password: env.ADMIN_PASSWORD }),
    }).then((r) => r.json());
    const auth = { authorization: `Bearer ${login.access_token}` };
    const kitId = (await fetch(`${server.baseUrl}/api/v1/toolkits`, { headers: auth }).then((r) => r.json())).items[0].id;

    // 30 distinct noisy photos, large enough that recognising one takes a moment.
    const photos = await Promise.all(
      Array.from({ length: 30 }, () =>
        sharp({ create: { width: 1600, height: 1200, channels: 3, background: '#808080', noise: { type: 'gaussian', mean: 128, sigma: 50 } } }).jpeg({ quality: 80 }).toBuffer(),
      ),
    );
    const zip = buildZip(photos.map((data, i) => ({ name: `shift/${String(i).padStart(2, '0')}.jpg`, data, method: 'store' })));
    const form = new FormData();
    form.append('toolkit_id', String(kitId));
    form.append('zip_file', new Blob([new Uint8Array(zip)], { type: 'application/zip' }), 'shift.zip');
    const submitted = await fetch(`${server.baseUrl}/api/v1/jobs`, { method: 'POST', headers: auth, body: form });
    expect(submitted.status, await submitted.clone().text()).toBe(202);
    const { job_id: id, total } = await submitted.json();
    expect(total).toBe(30);

    const status = () => fetch(`${server!.baseUrl}/api/v1/jobs/${id}`, { headers: auth }).then((r) => r.json());
    const atKill = await until('the job under way', async () => {
      const s = await status();
      return s.processed >= 3 ? s : null;
    }, 60_000, 20);
    const victim = workers[0]!;
    process.kill(-victim.child.pid!, 'SIGKILL');
    await victim.exited;
    expect(atKill.processed).toBeLessThan(30);

    const done = await until('the job to finish', async () => {
      const s = await status();
      return ['completed', 'failed', 'cancelled'].includes(s.state) ? s : null;
    }, 90_000, 200);
    expect(done).toMatchObject({ state: 'completed', total: 30, processed: 30, failed: 0 });
    expect(done.results).toHaveLength(30);
    expect(new Set(done.results.map((r: { entry_name: string }) => r.entry_name)).size).toBe(30);
    expect(done.results.every((r: { state: string; prediction: unknown }) => r.state === 'done' && r.prediction)).toBe(true);

    // The database agrees: one row per entry, each finished once.
    const client = new pg.Client({ connectionString: database.url });
    await client.connect();
    try {
      const items = await client.query('SELECT count(*)::int AS n, count(DISTINCT entry_name)::int AS names FROM job_items WHERE job_id = $1', [id]);
      expect(items.rows[0]).toEqual({ n: 30, names: 30 });
      const linked = await client.query('SELECT count(DISTINCT prediction_id)::int AS n FROM job_items WHERE job_id = $1 AND prediction_id IS NOT NULL', [id]);
      expect(linked.rows[0].n).toBe(30);
    } finally {
      await client.end();
    }

    const survivor = workers[1]!;
    // The summary line follows the state change (inputs are removed first): wait for it.
    await until('the survivor to log the job summary', async () => survivor.output().includes('job finished'), 15_000, 50);
    const log = survivor.output();
    // The victim's in-flight photos were handed to the survivor (BullMQ stalled-job recovery).
    expect(log).toMatch(/stalled/);
    // Graceful stop of the survivor.
    process.kill(-survivor.child.pid!, 'SIGTERM');
    await survivor.exited;
    expect(survivor.output()).toContain('worker stopped');
    console.log(
      `[worker-recovery] processed at kill: ${atKill.processed}/30; stalled re-runs seen by the survivor: ${(log.match(/stalled/g) ?? []).length}`,
    );
  }, 240_000);
});

/**
 * npm run bench:jobs [-- --images 200 --postgres postgres://… --redis redis://… --concurrency 2]
 *
 * A ZIP of rendered kit scenes through the job API, the way production runs it: the
 * real server (`npm start`) and one worker (`npm run worker`) on PostgreSQL (a fresh
 * database, dropped afterwards) and Redis (a database index of its own, flushed
 * afterwards). Prints the wall time from upload to the `done` event, images/s, the raw
 * model throughput measured in this run (onnxruntime session.run on the same images,
 * before the processes start), their ratio (target ≥ 0.8) and the peak RSS (VmHWM) of
 * the server and the worker (target ≤ 500 MB each).
 *
 * Needs the default model (MODEL_PATH, default models/toolcontrol-yolo.onnx) and the
 * scene renderer (src/synth/scene.ts). `--model` picks another ONNX; `--noise` uses
 * random photos instead of rendered scenes (to check the harness without the renderer).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import pg from 'pg';
import sharp from 'sharp';
import { loadConfig, PROJECT_ROOT } from '../src/config/index.js';
import { createOnnxDetector } from '../src/ml/onnx-detector.js';
import { freePort } from '../test/helpers/server-process.js';

const { values } = parseArgs({
  options: {
    images: { type: 'string', default: '200' },
    postgres: { type: 'string', default: process.env.BENCH_POSTGRES_URL ?? process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres' },
    redis: { type: 'string', default: process.env.BENCH_REDIS_URL ?? process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379' },
    concurrency: { type: 'string', default: '2' },
    model: { type: 'string' },
    width: { type: 'string', default: '1280' },
    height: { type: 'string', default: '960' },
    noise: { type: 'boolean', default: false },
  },
});
const IMAGES = Number(values.images);
const RSS_TARGET_MB = 500;
const RATIO_TARGET = 0.8;

interface Child {
  child: ChildProcess;
  log(): string;
  exited: Promise<void>;
}

function start(script: string, env: Record<string, string>): Child {
  let tail = '';
  const child = spawn('npm', ['run', '--silent', script], {
    cwd: PROJECT_ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  const keep = (d: Buffer) => {
    tail = (tail + d.toString()).slice(-200_000);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  return { child, log: () => tail, exited: new Promise((resolve) => child.once('close', () => resolve())) };
}

async function stop(c: Child): Promise<void> {
  if (c.child.exitCode !== null) return;
  try {
    process.kill(-c.child.pid!, 'SIGTERM');
  } catch {
    return;
  }
  const timer = setTimeout(() => {
    try {
      process.kill(-c.child.pid!, 'SIGKILL');
    } catch {
      // gone
    }
  }, 30_000);
  await c.exited;
  clearTimeout(timer);
}

/** Processes in the tree under `pid` (npm → sh → tsx → node), from /proc. */
function descendants(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)]);
    } catch {
      // exited meanwhile
    }
  }
  const out: number[] = [];
  const walk = (p: number) => {
    for (const c of children.get(p) ?? []) {
      out.push(c);
      walk(c);
    }
  };
  walk(pid);
  return out;
}

/** The largest peak RSS (VmHWM, MB) among the processes of a tree: the service's node process. */
function peakRssMb(root: number): { pid: number; mb: number } {
  let best = { pid: root, mb: 0 };
  for (const pid of [root, ...descendants(root)]) {
    try {
      const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
      const kb = Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? 0);
      if (kb / 1024 > best.mb) best = { pid, mb: kb / 1024 };
    } catch {
      // exited
    }
  }
  return best;
}


async function until(what: string, fn: () => Promise<boolean> | boolean, timeoutMs: number, proc?: Child): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await fn())) {
    if (proc && proc.child.exitCode !== null) throw new Error(`${what}: process exited\n${proc.log().slice(-4000)}`);
    if (Date.now() > deadline) throw new Error(`timed out: ${what}${proc ? `\n${proc.log().slice(-4000)}` : ''}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Minimal ZIP writer (stored entries: JPEGs do not compress). */
function zipStored(entries: Array<{ name: string; data: Buffer }>): Buffer {
  const parts: Buffer[] = [];
  const central: Buffer[] = [];
  let offset = 0;
  for (const { name, data } of entries) {
    const n = Buffer.from(name);
    const crc = (crcOf(data) >>> 0) as number;
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(data.length, 18);
    local.writeUInt32LE(data.length, 22);
    local.writeUInt16LE(n.length, 26);
    const cd = Buffer.alloc(46);
    cd.writeUInt32LE(0x02014b50, 0);
    cd.writeUInt16LE(20, 4);
    cd.writeUInt16LE(20, 6);
    cd.writeUInt32LE(crc, 16);
    cd.writeUInt32LE(data.length, 20);
    cd.writeUInt32LE(data.length, 24);
    cd.writeUInt16LE(n.length, 28);
    cd.writeUInt32LE(offset, 42);
    parts.push(local, n, data);
    central.push(cd, n);
    offset += 30 + n.length + data.length;
  }
  const cdBuf = Buffer.concat(central);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(cdBuf.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...parts, cdBuf, end]);
}

function crcOf(data: Buffer): number {
  return (zlibCrc32 as (d: Buffer) => number)(data);
}
const { crc32: zlibCrc32 } = await import('node:zlib');

async function renderPhotos(): Promise<Buffer[]> {
  const width = Number(values.width);
  const height = Number(values.height);
  if (values.noise) {
    return Promise.all(
      Array.from({ length: IMAGES }, () =>
        sharp({ create: { width, height, channels: 3, background: '#808080', noise: { type: 'gaussian', mean: 128, sigma: 40 } } }).jpeg({ quality: 85 }).toBuffer(),
      ),
    );
  }
  // Imported by path so that the script type-checks before the renderer exists.
  const scenePath = '../src/synth/scene.js';
  const { renderScene } = (await import(scenePath)) as {
    renderScene(o: { seed: number; width?: number; height?: number; kit: 'full' | 'random' }): Promise<{ jpeg: Buffer }>;
  };
  // A few at a time: sharp rasterises in its own threads.
  const photos: Buffer[] = new Array(IMAGES);
  let next = 0;
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      for (let i = next++; i < IMAGES; i = next++) {
        photos[i] = (await renderScene({ seed: 9000 + i, width, height, kit: i % 4 === 3 ? 'random' : 'full' })).jpeg;
      }
    }),
  );
  return photos;
}

/** Median per-photo stage times from the worker's `recognition` log lines: where the time goes. */
function stageMedians(log: string): string {
  const stages: Record<string, number[]> = {};
  for (const line of log.split('\n')) {
    if (!line.includes('"msg":"recognition"')) continue;
    try {
      const timings = (JSON.parse(line) as { timings?: Record<string, unknown> }).timings ?? {};
      for (const [stage, value] of Object.entries(timings)) if (typeof value === 'number') (stages[stage] ??= []).push(value);
    } catch {
      // a partial line at the start of the kept tail
    }
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1] ?? 0;
  const parts = Object.entries(stages).map(([stage, xs]) => `${stage} ${median(xs).toFixed(1)}`);
  return parts.length > 0 ? `(median ms per photo, ${stages.total?.length ?? 0} photos) ${parts.join(', ')}` : '(no recognition lines in the log)';
}

async function main(): Promise<void> {
  const config = loadConfig({ ...process.env, LOG_LEVEL: 'silent', ...(values.model ? { MODEL_PATH: path.resolve(values.model) } : {}) });
  const modelPath = config.model.path;
  if (!fs.existsSync(modelPath)) throw new Error(`No model at ${modelPath} (set MODEL_PATH or --model)`);
  console.log(`model        ${path.relative(PROJECT_ROOT, modelPath)}`);
  console.log(`images       ${IMAGES} × ${values.width}×${values.height} ${values.noise ? '(noise)' : '(rendered scenes)'}`);

  let started = performance.now();
  const photos = await renderPhotos();
  const zip = zipStored(photos.map((data, i) => ({ name: `bench/${String(i).padStart(4, '0')}.jpg`, data })));
  console.log(`rendered     ${((performance.now() - started) / 1000).toFixed(1)} s, ZIP ${(zip.length / 1024 / 1024).toFixed(1)} MB`);

  // Raw model throughput on the same photos: session.run only, as the worker's detector is set
  // up (INFERENCE_SESSIONS sessions, INFERENCE_THREADS each), its sessions kept busy together.
  const sessions = config.model.sessions;
  const detector = await createOnnxDetector({ modelPath, sessions, ...(config.model.threads ? { threads: config.model.threads } : {}) });
  const prepared: Array<Awaited<ReturnType<typeof detector.prepare>>> = [];
  for (const photo of photos) prepared.push(await detector.prepare(photo));
  for (let i = 0; i < 3; i++) await Promise.all(prepared.slice(0, sessions).map((p) => detector.runRaw(p)));
  let next = 0;
  const rawStarted = performance.now();
  await Promise.all(
    Array.from({ length: sessions }, async () => {
      while (next < prepared.length) await detector.runRaw(prepared[next++]!);
    }),
  );
  const rawSeconds = (performance.now() - rawStarted) / 1000;
  await detector.close();
  prepared.length = 0; // ≈ 3.7 MB of tensor per photo: let it go before the processes start
  const rawPerSecond = IMAGES / rawSeconds;
  console.log(
    `raw model    ${rawPerSecond.toFixed(2)} images/s (session.run, ${sessions} session${sessions > 1 ? 's' : ''} at once: ${((rawSeconds * 1000 * sessions) / IMAGES).toFixed(1)} ms per run)`,
  );

  // A fresh PostgreSQL database and a Redis database index of their own.
  const dbName = `toolcontrol_bench_${crypto.randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: values.postgres });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${dbName}`);
  await admin.end();
  const dbUrl = new URL(values.postgres!);
  dbUrl.pathname = `/${dbName}`;
  const redisUrl = new URL(values.redis!);
  redisUrl.pathname = `/${13 + crypto.randomInt(3)}`;
  const redis = new Redis(redisUrl.toString());
  await redis.flushdb();
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'toolcontrol-bench-jobs-'));
  const port = await freePort();
  const env = {
    HOST: '127.0.0.1',
    PORT: String(port),
    DATABASE_URL: dbUrl.toString(),
    REDIS_URL: redisUrl.toString(),
    DATA_DIR: tmp,
    MODEL_PATH: modelPath,
    ADMIN_PASSWORD: 'bench-admin-password',
    JWT_SECRET: crypto.randomBytes(32).toString('hex'),
    JOB_CONCURRENCY: values.concurrency!,
    LOG_LEVEL: 'info',
    // Every photo is new to this run; the cache must not flatter the numbers.
    RESULT_CACHE_TTL: '0',
    // glibc gives each of sharp's threads its own malloc arena; two arenas keep the worker ~100 MB
    // smaller at the same speed (the deployment should set it too). Override by exporting it.
    MALLOC_ARENA_MAX: process.env.MALLOC_ARENA_MAX ?? '2',
  };
  console.log(`processes    MALLOC_ARENA_MAX=${env.MALLOC_ARENA_MAX}, JOB_CONCURRENCY=${env.JOB_CONCURRENCY}`);
  const base = `http://127.0.0.1:${port}`;
  const server = start('start', env);
  const worker = start('worker', env);
  try {
    await until('server healthy', async () => (await fetch(`${base}/base/health`).catch(() => null))?.status === 200, 120_000, server);
    await until('worker ready', () => worker.log().includes('worker ready'), 120_000, worker);

    const login = await fetch(`${base}/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ employee_number: 'admin', password: env.ADMIN_PASSWORD }),
    }).then((r) => r.json());
    const auth = { authorization: `Bearer ${login.access_token}` };
    const kitId = (await fetch(`${base}/api/v1/toolkits`, { headers: auth }).then((r) => r.json())).items[0].id;

    started = performance.now();
    const form = new FormData();
    form.append('toolkit_id', String(kitId));
    form.append('zip_file', new Blob([new Uint8Array(zip)], { type: 'application/zip' }), 'bench.zip');
    const submitted = await fetch(`${base}/api/v1/jobs`, { method: 'POST', headers: auth, body: form });
    if (submitted.status !== 202) throw new Error(`POST /api/v1/jobs → ${submitted.status} ${await submitted.text()}`);
    const { job_id: jobId } = await submitted.json();
    const acceptedMs = performance.now() - started;

    // Follow the job's event stream to its `done` event.
    const events = await fetch(`${base}/api/v1/jobs/${jobId}/events`, { headers: auth });
    const reader = events.body!.getReader();
    const decoder = new TextDecoder();
    let buffer = '';
    let done: { state: string; summary: Record<string, unknown> } | null = null;
    let items = 0;
    while (!done) {
      const chunk = await reader.read();
      if (chunk.done) break;
      buffer += decoder.decode(chunk.value, { stream: true });
      let cut: number;
      while ((cut = buffer.indexOf('\n\n')) !== -1) {
        const frame = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        const event = /^event: (\w+)$/m.exec(frame)?.[1];
        const data = /^data: (.*)$/m.exec(frame)?.[1];
        if (event === 'item') {
          items++;
          if (items % 50 === 0) process.stdout.write(`  … ${items}/${IMAGES}\n`);
        }
        if (event === 'done' && data) done = JSON.parse(data);
      }
    }
    const wallSeconds = (performance.now() - started) / 1000;
    if (!done) throw new Error('the event stream ended without `done`');

    const serverRss = peakRssMb(server.child.pid!);
    const workerRss = peakRssMb(worker.child.pid!);
    const perSecond = IMAGES / wallSeconds;
    const ratio = perSecond / rawPerSecond;
    console.log('');
    console.log(`job          ${done.state}: ${JSON.stringify(done.summary)}`);
    console.log(`upload       ${(acceptedMs / 1000).toFixed(1)} s until 202 (archive checked, ${IMAGES} photos stored)`);
    console.log(`wall time    ${wallSeconds.toFixed(1)} s (upload to done)`);
    console.log(`throughput   ${perSecond.toFixed(2)} images/s through the job API`);
    console.log(`raw model    ${rawPerSecond.toFixed(2)} images/s`);
    console.log(`ratio        ${ratio.toFixed(2)} (target ≥ ${RATIO_TARGET}) ${ratio >= RATIO_TARGET ? 'OK' : 'BELOW TARGET'}`);
    console.log(`peak RSS     server ${serverRss.mb.toFixed(0)} MB (pid ${serverRss.pid}), worker ${workerRss.mb.toFixed(0)} MB (pid ${workerRss.pid}) (target ≤ ${RSS_TARGET_MB} MB) ${Math.max(serverRss.mb, workerRss.mb) <= RSS_TARGET_MB ? 'OK' : 'ABOVE TARGET'}`);
    console.log(`worker stages ${stageMedians(worker.log())}`);
    const summaryLine = /"msg":"job finished"/.test(worker.log()) ? worker.log().split('\n').find((l) => l.includes('"msg":"job finished"')) : null;
    if (summaryLine) console.log(`worker log   ${summaryLine.slice(0, 400)}`);
  } finally {
    await stop(worker);
    await stop(server);
    await redis.flushdb().catch(() => undefined);
    redis.disconnect();
    const cleanup = new pg.Client({ connectionString: values.postgres });
    await cleanup.connect();
    await cleanup.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
    await cleanup.end();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});

/**
 * The inference pool when its workers die: a worker thread is ended from outside (as a native
 * crash or an OOM kill ends it) after its model file was replaced by one that no longer loads.
 * Runs must then fail at once (503 model.unavailable through the detector), health must say
 * the model is not loaded, and the pool must come back by itself once the file loads again.
 */
import { copyFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Worker } from 'node:worker_threads';
import sharp from 'sharp';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createInferencePool, InferenceUnavailableError, type InferencePool } from '../../src/ml/inference-pool.js';
import { modelStatusOf } from '../../src/ml/model-status.js';
import { createOnnxDetector, type OnnxDetector } from '../../src/ml/onnx-detector.js';
import { ServiceUnavailableError } from '../../src/shared/errors.js';

const fixture = (name: string) => fileURLToPath(new URL(`../fixtures/onnx/${name}`, import.meta.url));
const input = () => ({ images: { data: new Float32Array(3 * 320 * 320), dims: [1, 3, 320, 320] } });

/** Settles within `ms`, or fails the test instead of hanging it (the bug this file guards against). */
function within<T>(promise: Promise<T>, ms: number): Promise<T> {
  return Promise.race([
    promise,
    new Promise<T>((_, reject) => setTimeout(() => reject(new Error(`still pending after ${ms} ms`)), ms)),
  ]);
}

async function until(condition: () => boolean, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

let dir: string;
let modelPath: string;
let workers: Worker[];

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pool-'));
  modelPath = join(dir, 'model.onnx');
  await copyFile(fixture('detect.onnx'), modelPath);
  workers = [];
});
afterEach(() => rm(dir, { recursive: true, force: true }));

/** The model file is replaced mid-deploy by something that does not load, then the worker dies. */
async function breakModelAndKill(worker: Worker): Promise<void> {
  await writeFile(modelPath, 'half-copied model');
  await worker.terminate();
}

describe('inference pool whose only worker dies and cannot be replaced', () => {
  let pool: InferencePool;
  afterEach(() => pool?.close());

  it('rejects queued and new runs at once, reports why, retries with backoff and recovers', async () => {
    pool = await createInferencePool({
      modelPath,
      sessions: 1,
      threads: 1,
      respawnBackoffMs: 50,
      respawnMaxBackoffMs: 200,
      onWorker: (w) => workers.push(w),
    });
    expect((await pool.run(input())).outputs.output0?.dims).toEqual([1, 7, 8]);
    expect(pool.unavailable).toBeNull();

    await breakModelAndKill(workers[0]!);
    // Queued while the replacement loads: it fails when the replacement fails, it does not wait forever.
    const queued = pool.run(input());
    await expect(within(queued, 10_000)).rejects.toBeInstanceOf(InferenceUnavailableError);
    expect(pool.unavailable).toMatch(/no inference worker is running: Cannot load model .*model\.onnx/);
    expect(pool.pending).toBe(0);

    // New runs are refused, not queued (within() fails the test if one waits).
    const refused = await within(pool.run(input()), 1_000).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(InferenceUnavailableError);
    expect((refused as Error).message).toMatch(/No inference worker is running \(Cannot load model/);
    expect(pool.pending).toBe(0);

    // It keeps trying: once the file loads again, a worker starts and runs are served.
    const attempts = workers.length;
    await copyFile(fixture('detect.onnx'), modelPath);
    await until(() => pool.unavailable === null, 10_000);
    expect(workers.length).toBeGreaterThan(attempts);
    expect((await within(pool.run(input()), 10_000)).outputs.output0?.dims).toEqual([1, 7, 8]);
  });

  it('keeps serving on the surviving worker while a replacement fails to load', async () => {
    pool = await createInferencePool({
      modelPath,
      sessions: 2,
      threads: 1,
      respawnBackoffMs: 50,
      respawnMaxBackoffMs: 200,
      onWorker: (w) => workers.push(w),
    });
    await breakModelAndKill(workers[0]!);
    await until(() => workers.length >= 4, 10_000); // two failed replacement attempts
    expect(pool.unavailable).toBeNull();
    const results = await within(Promise.all([pool.run(input()), pool.run(input()), pool.run(input())]), 10_000);
    for (const result of results) expect(result.outputs.output0?.dims).toEqual([1, 7, 8]);
  });
});

describe('detector over a pool with no live worker', () => {
  let detector: OnnxDetector;
  afterEach(() => detector?.close());

  it('answers 503 model.unavailable, frees its admission slots, reports not loaded, then recovers', async () => {
    const image = await sharp({ create: { width: 640, height: 350, channels: 3, background: { r: 90, g: 120, b: 150 } } })
      .jpeg()
      .toBuffer();
    detector = await createOnnxDetector({
      modelPath,
      threads: 1,
      maxQueue: 1,
      respawnBackoffMs: 50,
      respawnMaxBackoffMs: 200,
      onWorker: (w) => workers.push(w),
    });
    expect(modelStatusOf(detector, modelPath, null)).toMatchObject({ loaded: true });

    await breakModelAndKill(workers[0]!);
    await until(() => detector.unavailableReason !== null, 10_000);
    // More requests than the admission capacity (1 session + queue 1): each is a 503 saying the
    // model is unavailable, none is a queue_full left over from requests that never finished.
    for (let i = 0; i < 4; i++) {
      const error = await within(detector.detect(image, { confidence: 0.5 }), 5_000).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ServiceUnavailableError);
      expect(error).toMatchObject({ status: 503, code: 'model.unavailable' });
      expect((error as ServiceUnavailableError).retryAfterSeconds).toBeGreaterThanOrEqual(1);
      expect((error as Error).message).not.toMatch(/model\.onnx/); // 5xx bodies say nothing internal
    }
    expect(detector.inFlight).toBe(0);
    expect(modelStatusOf(detector, modelPath, null)).toMatchObject({
      loaded: false,
      path: modelPath,
      error: expect.stringMatching(/no inference worker is running: Cannot load model/),
    });

    await copyFile(fixture('detect.onnx'), modelPath);
    await until(() => detector.unavailableReason === null, 10_000);
    expect(modelStatusOf(detector, modelPath, null)).toMatchObject({ loaded: true });
    const { detections } = await detector.detect(image, { confidence: 0.5 });
    expect(detections.map((d) => d.box)).toEqual([
      { x1: 80, y1: 56, x2: 200, y2: 176 },
      { x1: 80, y1: 56, x2: 200, y2: 176 },
      { x1: 140, y1: 56, x2: 260, y2: 176 },
      { x1: 560, y1: 0, x2: 640, y2: 96 },
    ]);
  });
});

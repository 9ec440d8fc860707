/**
 * A fixed set of worker threads, each with one onnxruntime session, fed from a FIFO queue.
 * A worker that dies is replaced; the request it was running fails, the others continue.
 * A replacement that cannot load the model (the file was replaced or removed) is tried again
 * with backoff; while no worker is alive and the last attempt failed, queued and new runs are
 * refused at once (InferenceUnavailableError) rather than waiting for a worker that may never come.
 */
import { existsSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import type { Logger } from '../shared/logger.js';
import type { RunRequest, WireTensor, WorkerInit, WorkerMessage } from './inference-messages.js';
import type { ModelSignature } from './model-info.js';
import type { OutputTensor } from './yolo-output.js';

export interface InferencePoolOptions {
  modelPath: string;
  /** Number of sessions (worker threads). */
  sessions: number;
  /** intraOpNumThreads of each session. */
  threads: number;
  /** Intra-op threads spin between runs (onnxruntime's default). Default true. */
  spin?: boolean;
  /** Wait before starting a failed replacement worker again; doubled per failure. Default 1 s. */
  respawnBackoffMs?: number;
  /** Longest wait between attempts. Default 30 s. */
  respawnMaxBackoffMs?: number;
  logger?: Pick<Logger, 'info' | 'warn' | 'error'>;
  /** Sees every worker thread started (tests end one to stand for a crash). */
  onWorker?: (worker: Worker) => void;
}

/** No inference worker is alive and none could be started; `retryAfterMs` until the next attempt. */
export class InferenceUnavailableError extends Error {
  constructor(
    message: string,
    readonly retryAfterMs: number,
  ) {
    super(message);
    this.name = 'InferenceUnavailableError';
  }
}

export interface InferenceOutput {
  outputs: Record<string, OutputTensor>;
  /** Wall time of session.run inside the worker. */
  runMs: number;
}

export interface InferencePool {
  readonly signature: ModelSignature;
  readonly size: number;
  /** Requests queued or running. */
  readonly pending: number;
  /** Why runs are refused now (no worker alive, the last start failed); null while they are served. */
  readonly unavailable: string | null;
  /** Runs the model; `feeds` buffers are transferred to the worker (unusable afterwards). */
  run(feeds: Record<string, WireTensor>): Promise<InferenceOutput>;
  close(): Promise<void>;
}

interface Job {
  id: number;
  feeds: Record<string, WireTensor>;
  resolve(output: InferenceOutput): void;
  reject(error: Error): void;
}

interface Slot {
  worker: Worker;
  job: Job | null;
}

/**
 * The worker's entry. Compiled builds have inference-worker.js beside this file. Under tsx or
 * vitest this file is TypeScript, and worker threads do not inherit the TypeScript loader, so
 * a tiny bootstrap registers tsx in the worker before importing the .ts entry.
 */
function workerEntry(): { source: string | URL; eval: boolean } {
  const compiled = new URL('./inference-worker.js', import.meta.url);
  if (existsSync(compiled)) return { source: compiled, eval: false };
  // import.meta.resolve is missing under vitest; the bare name then resolves from the working directory.
  const tsxApi = typeof import.meta.resolve === 'function' ? import.meta.resolve('tsx/esm/api') : 'tsx/esm/api';
  const entry = new URL('./inference-worker.ts', import.meta.url).href;
  return {
    source: `import(${JSON.stringify(tsxApi)}).then(({ register }) => { register(); return import(${JSON.stringify(entry)}); });`,
    eval: true,
  };
}

export async function createInferencePool(options: InferencePoolOptions): Promise<InferencePool> {
  if (!(Number.isInteger(options.sessions) && options.sessions >= 1)) throw new Error('sessions must be ≥ 1');
  if (!(Number.isInteger(options.threads) && options.threads >= 1)) throw new Error('threads must be ≥ 1');
  const entry = workerEntry();
  const init: WorkerInit = { modelPath: options.modelPath, intraOpNumThreads: options.threads, spin: options.spin ?? true };
  const queue: Job[] = [];
  const idle: Slot[] = [];
  const slots = new Set<Slot>();
  const backoffMs = options.respawnBackoffMs ?? 1_000;
  const maxBackoffMs = options.respawnMaxBackoffMs ?? 30_000;
  const timers = new Set<NodeJS.Timeout>();
  const { logger } = options;
  let nextId = 1;
  let closed = false;
  /** Set while no worker is alive and the last attempt to start one failed. */
  let outage: { error: Error; retryAt: number } | null = null;

  function spawn(): Promise<{ slot: Slot; signature: ModelSignature }> {
    return new Promise((resolve, reject) => {
      const worker = new Worker(entry.source, { workerData: init, eval: entry.eval });
      options.onWorker?.(worker);
      const slot: Slot = { worker, job: null };
      let ready = false;
      worker.on('message', (message: WorkerMessage) => {
        switch (message.type) {
          case 'ready':
            ready = true;
            slots.add(slot);
            resolve({ slot, signature: { inputs: message.inputs, outputs: message.outputs } });
            return;
          case 'init-failed':
            void worker.terminate();
            reject(new Error(`Cannot load model ${options.modelPath}: ${message.error}`));
            return;
          case 'result':
          case 'run-failed':
            settle(slot, message);
            return;
        }
      });
      worker.on('error', (error) => {
        if (!ready) reject(error);
        else slot.job?.reject(new Error(`Inference worker failed: ${error.message}`));
      });
      worker.on('exit', (code) => {
        if (!ready) return reject(new Error('Inference worker exited while loading the model'));
        replace(slot, code);
      });
    });
  }

  function settle(slot: Slot, message: Extract<WorkerMessage, { type: 'result' | 'run-failed' }>): void {
    const job = slot.job;
    if (!job || job.id !== message.id) return;
    slot.job = null;
    if (message.type === 'result') job.resolve({ outputs: message.outputs, runMs: message.runMs });
    else job.reject(new Error(`Inference failed: ${message.error}`));
    dispatch(slot);
  }

  /** A worker died: fail its request and start a new worker in its place. */
  function replace(slot: Slot, exitCode: number): void {
    slots.delete(slot);
    const index = idle.indexOf(slot);
    if (index >= 0) idle.splice(index, 1);
    slot.job?.reject(new Error('Inference worker exited unexpectedly'));
    slot.job = null;
    if (closed) return;
    logger?.error({ modelPath: options.modelPath, exitCode, workersAlive: slots.size }, 'inference worker exited; starting another');
    respawn(0);
  }

  /** Start a worker in a dead one's place; on failure try again after a growing wait, until the pool closes. */
  function respawn(failures: number): void {
    spawn().then(
      ({ slot: fresh }) => {
        if (closed) return void fresh.worker.terminate();
        if (outage) logger?.info({ modelPath: options.modelPath, attempts: failures + 1 }, 'inference worker running again');
        outage = null;
        dispatch(fresh);
      },
      (error: Error) => {
        if (closed) return;
        const delay = Math.min(maxBackoffMs, backoffMs * 2 ** failures);
        if (slots.size === 0) {
          outage = { error, retryAt: Date.now() + delay };
          for (const job of queue.splice(0)) job.reject(unavailableError());
        }
        logger?.error(
          { modelPath: options.modelPath, err: error.message, attempt: failures + 1, retryInMs: delay, workersAlive: slots.size },
          'inference worker could not be started again',
        );
        const timer = setTimeout(() => {
          timers.delete(timer);
          if (!closed) respawn(failures + 1);
        }, delay);
        timer.unref();
        timers.add(timer);
      },
    );
  }

  function unavailableError(): InferenceUnavailableError {
    return new InferenceUnavailableError(
      `No inference worker is running (${outage?.error.message ?? 'unknown'})`,
      Math.max(0, (outage?.retryAt ?? Date.now()) - Date.now()),
    );
  }

  function dispatch(slot: Slot): void {
    const job = queue.shift();
    if (!job) {
      idle.push(slot);
      return;
    }
    slot.job = job;
    const transfer = new Set(Object.values(job.feeds).map((t) => t.data.buffer as ArrayBuffer));
    const request: RunRequest = { id: job.id, feeds: job.feeds };
    slot.worker.postMessage(request, [...transfer]);
  }

  const started = await Promise.allSettled(Array.from({ length: options.sessions }, spawn));
  const failure = started.find((s) => s.status === 'rejected');
  if (failure) {
    closed = true;
    await Promise.all([...slots].map((s) => s.worker.terminate()));
    throw failure.reason;
  }
  const first = started[0] as PromiseFulfilledResult<{ slot: Slot; signature: ModelSignature }>;
  for (const s of started) idle.push((s as PromiseFulfilledResult<{ slot: Slot }>).value.slot);

  return {
    signature: first.value.signature,
    size: options.sessions,
    get pending() {
      return queue.length + [...slots].filter((s) => s.job).length;
    },
    get unavailable() {
      return outage ? `no inference worker is running: ${outage.error.message}` : null;
    },
    run(feeds) {
      if (closed) return Promise.reject(new Error('The inference pool is closed'));
      if (outage) return Promise.reject(unavailableError());
      return new Promise<InferenceOutput>((resolve, reject) => {
        queue.push({ id: nextId++, feeds, resolve, reject });
        const slot = idle.shift();
        if (slot) dispatch(slot);
      });
    },
    async close() {
      closed = true;
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      for (const job of queue.splice(0)) job.reject(new Error('The inference pool is closed'));
      await Promise.all([...slots].map((s) => s.worker.terminate()));
    },
  };
}

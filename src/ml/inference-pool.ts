/**
 * A fixed set of worker threads, each with one onnxruntime session, fed from a FIFO queue.
 * A worker that dies is replaced; the request it was running fails, the others continue.
 */
import { existsSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
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
  let nextId = 1;
  let closed = false;

  function spawn(): Promise<{ slot: Slot; signature: ModelSignature }> {
    return new Promise((resolve, reject) => {
      const worker = new Worker(entry.source, { workerData: init, eval: entry.eval });
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
      worker.on('exit', () => {
        if (!ready) return reject(new Error('Inference worker exited while loading the model'));
        replace(slot);
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
  function replace(slot: Slot): void {
    slots.delete(slot);
    const index = idle.indexOf(slot);
    if (index >= 0) idle.splice(index, 1);
    slot.job?.reject(new Error('Inference worker exited unexpectedly'));
    slot.job = null;
    if (closed) return;
    spawn().then(
      ({ slot: fresh }) => (closed ? void fresh.worker.terminate() : dispatch(fresh)),
      (error: Error) => {
        if (slots.size === 0) for (const job of queue.splice(0)) job.reject(error);
      },
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
    run(feeds) {
      if (closed) return Promise.reject(new Error('The inference pool is closed'));
      return new Promise<InferenceOutput>((resolve, reject) => {
        queue.push({ id: nextId++, feeds, resolve, reject });
        const slot = idle.shift();
        if (slot) dispatch(slot);
      });
    },
    async close() {
      closed = true;
      for (const job of queue.splice(0)) job.reject(new Error('The inference pool is closed'));
      await Promise.all([...slots].map((s) => s.worker.terminate()));
    },
  };
}

/**
 * Worker thread owning one onnxruntime session. onnxruntime-node's session.run blocks the
 * calling thread for the whole inference, so sessions live here, off the event loop.
 */
import { parentPort, workerData } from 'node:worker_threads';
import * as ort from 'onnxruntime-node';
import type { RunRequest, WireTensor, WorkerInit, WorkerMessage } from './inference-messages.js';
import type { TensorSignature } from './model-info.js';

const port = parentPort;
if (!port) throw new Error('inference-worker must run in a worker thread');
const init = workerData as WorkerInit;

function post(message: WorkerMessage, transfer: ArrayBuffer[] = []): void {
  port!.postMessage(message, transfer);
}

function signatureOf(metadata: readonly ort.InferenceSession.ValueMetadata[]): TensorSignature[] {
  return metadata.map((m) =>
    m.isTensor ? { name: m.name, type: m.type, shape: [...m.shape] } : { name: m.name, type: 'non-tensor', shape: [] },
  );
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

async function start(): Promise<void> {
  let session: ort.InferenceSession;
  try {
    session = await ort.InferenceSession.create(init.modelPath, {
      intraOpNumThreads: init.intraOpNumThreads,
      interOpNumThreads: 1,
      executionMode: 'sequential',
      graphOptimizationLevel: 'all',
      // Spinning threads answer the next run sooner but burn the cores between runs (see WorkerInit.spin).
      extra: { session: { intra_op: { allow_spinning: init.spin ? '1' : '0' } } },
    });
  } catch (error) {
    post({ type: 'init-failed', error: errorText(error) });
    return;
  }
  port!.on('message', (request: RunRequest) => void run(session, request));
  post({ type: 'ready', inputs: signatureOf(session.inputMetadata), outputs: signatureOf(session.outputMetadata) });
}

async function run(session: ort.InferenceSession, request: RunRequest): Promise<void> {
  try {
    const feeds: Record<string, ort.Tensor> = {};
    for (const [name, tensor] of Object.entries(request.feeds)) {
      feeds[name] = new ort.Tensor('float32', tensor.data, tensor.dims);
    }
    const started = performance.now();
    const results = await session.run(feeds);
    const runMs = performance.now() - started;
    const outputs: Record<string, WireTensor> = {};
    const transfer = new Set<ArrayBuffer>();
    for (const [name, value] of Object.entries(results)) {
      if (value.type !== 'float32') throw new Error(`Output '${name}' is ${value.type}; only float32 is supported`);
      const data = value.data as Float32Array;
      outputs[name] = { data, dims: [...value.dims] };
      transfer.add(data.buffer as ArrayBuffer);
    }
    post({ type: 'result', id: request.id, outputs, runMs }, [...transfer]);
  } catch (error) {
    post({ type: 'run-failed', id: request.id, error: errorText(error) });
  }
}

void start();

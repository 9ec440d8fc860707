/**
 * Worker thread owning one onnxruntime session. onnxruntime-node's session.run blocks the
 * calling thread for the whole inference, so sessions live here, off the event loop.
 * float16 models (`half=True` exports) get their input converted to halves here and their
 * outputs back to float32, so the pool and everything after it see float32 only.
 */
import { parentPort, workerData } from 'node:worker_threads';
import * as ort from 'onnxruntime-node';
import { fromFloat16Bits, toFloat16Bits } from './float16.js';
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
  const inputTypes = new Map(session.inputMetadata.map((m) => [m.name, m.isTensor ? m.type : 'non-tensor']));
  port!.on('message', (request: RunRequest) => void run(session, inputTypes, request));
  post({ type: 'ready', inputs: signatureOf(session.inputMetadata), outputs: signatureOf(session.outputMetadata) });
}

async function run(session: ort.InferenceSession, inputTypes: ReadonlyMap<string, string>, request: RunRequest): Promise<void> {
  try {
    const feeds: Record<string, ort.Tensor> = {};
    for (const [name, tensor] of Object.entries(request.feeds)) {
      feeds[name] =
        inputTypes.get(name) === 'float16'
          ? new ort.Tensor('float16', toFloat16Bits(tensor.data), tensor.dims)
          : new ort.Tensor('float32', tensor.data, tensor.dims);
    }
    const started = performance.now();
    const results = await session.run(feeds);
    const runMs = performance.now() - started;
    const outputs: Record<string, WireTensor> = {};
    const transfer = new Set<ArrayBuffer>();
    for (const [name, value] of Object.entries(results)) {
      const data = float32Data(name, value);
      outputs[name] = { data, dims: [...value.dims] };
      transfer.add(data.buffer as ArrayBuffer);
    }
    post({ type: 'result', id: request.id, outputs, runMs }, [...transfer]);
  } catch (error) {
    post({ type: 'run-failed', id: request.id, error: errorText(error) });
  }
}

/** An output as float32: float16 comes as bit patterns in a Uint16Array (a Float16Array where the runtime has one). */
function float32Data(name: string, tensor: ort.Tensor): Float32Array {
  if (tensor.type === 'float32') return tensor.data as Float32Array;
  if (tensor.type === 'float16') {
    const data = tensor.data;
    return data instanceof Uint16Array ? fromFloat16Bits(data) : Float32Array.from(data as ArrayLike<number>);
  }
  throw new Error(`Output '${name}' is ${tensor.type}; only float32 and float16 are supported`);
}

void start();

/** Messages between the inference pool and its worker threads. */
import type { TensorSignature } from './model-info.js';

export interface WorkerInit {
  modelPath: string;
  intraOpNumThreads: number;
}

export interface WireTensor {
  data: Float32Array;
  dims: number[];
}

export interface RunRequest {
  id: number;
  feeds: Record<string, WireTensor>;
}

export type WorkerMessage =
  | { type: 'ready'; inputs: TensorSignature[]; outputs: TensorSignature[] }
  | { type: 'init-failed'; error: string }
  | { type: 'result'; id: number; outputs: Record<string, WireTensor>; runMs: number }
  | { type: 'run-failed'; id: number; error: string };

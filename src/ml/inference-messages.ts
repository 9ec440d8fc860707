/** Messages between the inference pool and its worker threads. */
import type { TensorSignature } from './model-info.js';

export interface WorkerInit {
  modelPath: string;
  intraOpNumThreads: number;
  /**
   * onnxruntime's intra-op threads spin while waiting for work (its default). That saves a few
   * ms per run for one photo at a time, and costs the cores that decode the next photos when
   * runs alternate with other work (job workers: off).
   */
  spin: boolean;
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

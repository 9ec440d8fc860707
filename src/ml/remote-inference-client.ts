/**
 * A client for the KServe v2 / Open Inference Protocol over HTTP (NVIDIA Triton, KServe,
 * OpenVINO Model Server…): model metadata, readiness, and inference with FP32 or FP16 tensors
 * (float32 on our side either way), as JSON `data` or with Triton's binary tensor data extension.
 *
 * Several servers may be given: requests start at the next server in turn (round robin),
 * fail over to the others, and retry whole rounds with exponential backoff. When no server
 * answers, `infer` throws ServiceUnavailableError (503 + Retry-After) — never a partial result.
 */
import { ServiceUnavailableError } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import { fromFloat16Bits, toFloat16Bits } from './float16.js';
import type { OutputTensor } from './yolo-output.js';

export interface RemoteTensor {
  data: Float32Array;
  dims: readonly number[];
  /** What the server's model takes (its metadata); FP16 is sent as halves. Default FP32. */
  datatype?: 'FP32' | 'FP16';
}

/** Bytes per value of the tensor types exchanged. */
const VALUE_BYTES: Record<string, number> = { FP32: 4, FP16: 2 };

export interface RemoteTensorMetadata {
  name: string;
  datatype: string;
  /** -1 for a dynamic axis. */
  shape: number[];
}

/** GET /v2/models/{name} (the fields we use). */
export interface RemoteModelMetadata {
  name: string;
  versions?: string[];
  platform?: string;
  inputs: RemoteTensorMetadata[];
  outputs: RemoteTensorMetadata[];
}

export interface RemoteServerStatus {
  url: string;
  /** null until the server has been probed or used. */
  ready: boolean | null;
  error: string | null;
  /** Epoch ms of the last probe or request. */
  checkedAt: number | null;
}

export type RemoteOutcome = 'ok' | 'error' | 'timeout';

export interface RemoteInferenceClientOptions {
  /** Base URLs (`http://triton:8000`), without a trailing slash. */
  urls: readonly string[];
  model: string;
  /** A fixed model version; unset lets the server choose (its version policy). */
  version?: string;
  /** Per attempt. */
  timeoutMs: number;
  /** Extra rounds over all servers after the first one fails. Default 2. */
  retries?: number;
  /** Wait before the first retry round, doubled each round (with jitter). Default 200 ms. */
  backoffMs?: number;
  /** Triton's binary tensor data extension for inputs and outputs. Default true. */
  binary?: boolean;
  logger: Logger;
  /** Called after every HTTP request to a server (metrics). */
  onRequest?: (server: string, outcome: RemoteOutcome) => void;
}

export interface InferResult {
  outputs: Record<string, OutputTensor>;
  /** The server that answered. */
  server: string;
  /** Round trip of the successful request. */
  roundTripMs: number;
  /** Requests made, the successful one included. */
  attempts: number;
}

const HEADER_LENGTH = 'inference-header-content-length';
const MAX_BACKOFF_MS = 5_000;
const PROBE_TIMEOUT_MS = 2_000;

class RemoteRequestError extends Error {
  constructor(
    message: string,
    readonly outcome: RemoteOutcome,
  ) {
    super(message);
    this.name = 'RemoteRequestError';
  }
}

interface ServerState extends RemoteServerStatus {
  /** The outage has been logged; cleared when the server answers again. */
  outageLogged: boolean;
}

export function createRemoteInferenceClient(options: RemoteInferenceClientOptions) {
  if (options.urls.length === 0) throw new Error('At least one inference server URL is needed');
  const { logger, timeoutMs } = options;
  const retries = options.retries ?? 2;
  const backoffMs = options.backoffMs ?? 200;
  const binary = options.binary ?? true;
  const modelPath = `/v2/models/${encodeURIComponent(options.model)}${
    options.version ? `/versions/${encodeURIComponent(options.version)}` : ''
  }`;
  const servers: ServerState[] = options.urls.map((url) => ({
    url,
    ready: null,
    error: null,
    checkedAt: null,
    outageLogged: false,
  }));
  let nextServer = 0;

  function markUp(server: ServerState): void {
    if (server.outageLogged) logger.info({ target: server.url }, 'inference server answering again');
    Object.assign(server, { ready: true, error: null, checkedAt: Date.now(), outageLogged: false });
  }

  function markDown(server: ServerState, error: string, context: Record<string, unknown> = {}): void {
    if (!server.outageLogged) {
      logger.warn({ target: server.url, err: error, ...context }, 'inference server not answering; failing over and retrying');
    }
    Object.assign(server, { ready: false, error, checkedAt: Date.now(), outageLogged: true });
  }

  async function request(server: ServerState, path: string, init: RequestInit, timeout: number): Promise<Response> {
    let response: Response;
    try {
      response = await fetch(server.url + path, { ...init, signal: AbortSignal.timeout(timeout) });
    } catch (error) {
      const err = error as Error;
      const timedOut = err.name === 'TimeoutError' || err.name === 'AbortError';
      const reason = timedOut ? `no answer within ${timeout} ms` : describeFetchError(err);
      throw new RemoteRequestError(reason, timedOut ? 'timeout' : 'error');
    }
    return response;
  }

  async function failure(response: Response): Promise<RemoteRequestError> {
    const text = await response.text().catch(() => '');
    let detail = text.slice(0, 300);
    try {
      detail = String((JSON.parse(text) as { error?: unknown }).error ?? detail);
    } catch {
      // not JSON
    }
    return new RemoteRequestError(`HTTP ${response.status}${detail ? `: ${detail}` : ''}`, 'error');
  }

  /** Servers in the order this request tries them: round robin, servers known to be down last. */
  function attemptOrder(): ServerState[] {
    const start = nextServer++ % servers.length;
    const rotated = [...servers.slice(start), ...servers.slice(0, start)];
    return [...rotated.filter((s) => s.ready !== false), ...rotated.filter((s) => s.ready === false)];
  }

  function retryAfterSeconds(): number {
    return Math.max(1, Math.ceil(Math.min(MAX_BACKOFF_MS * 2, backoffMs * 2 ** (retries + 1)) / 1000));
  }

  async function infer(inputs: Record<string, RemoteTensor>, outputNames: readonly string[]): Promise<InferResult> {
    const { body, headers } = encodeRequest(inputs, outputNames, binary);
    const failures: string[] = [];
    let attempts = 0;
    for (let round = 0; round <= retries; round++) {
      if (round > 0) await sleep(withJitter(Math.min(MAX_BACKOFF_MS, backoffMs * 2 ** (round - 1))));
      for (const server of attemptOrder()) {
        attempts++;
        const started = performance.now();
        try {
          const response = await request(server, `${modelPath}/infer`, { method: 'POST', headers, body: body as Uint8Array<ArrayBuffer> }, timeoutMs);
          if (!response.ok) throw await failure(response);
          const outputs = decodeResponse(Buffer.from(await response.arrayBuffer()), response.headers.get(HEADER_LENGTH), outputNames);
          const roundTripMs = performance.now() - started;
          options.onRequest?.(server.url, 'ok');
          markUp(server);
          return { outputs, server: server.url, roundTripMs, attempts };
        } catch (error) {
          const err = error as Error;
          options.onRequest?.(server.url, err instanceof RemoteRequestError ? err.outcome : 'error');
          failures.push(`${server.url}: ${err.message}`);
          markDown(server, err.message, { attempt: attempts, round, retries });
        }
      }
    }
    logger.warn({ model: options.model, attempts, failures: failures.slice(-servers.length) }, 'no inference server answered');
    throw new ServiceUnavailableError(
      'inference.unavailable',
      'The inference server is not answering; retry shortly',
      retryAfterSeconds(),
    );
  }

  /** The model's metadata from the first server that gives it. */
  async function metadata(): Promise<RemoteModelMetadata> {
    const failures: string[] = [];
    for (const server of attemptOrder()) {
      try {
        const response = await request(server, modelPath, { method: 'GET' }, Math.min(timeoutMs, 5_000));
        if (!response.ok) throw await failure(response);
        options.onRequest?.(server.url, 'ok');
        return parseMetadata(await response.json());
      } catch (error) {
        options.onRequest?.(server.url, error instanceof RemoteRequestError ? error.outcome : 'error');
        failures.push(`${server.url}: ${(error as Error).message}`);
      }
    }
    throw new Error(`No inference server gave the metadata of model '${options.model}' (${failures.join('; ')})`);
  }

  /** GET /v2/health/ready and the model's /ready on every server; updates and returns their status. */
  async function probe(): Promise<RemoteServerStatus[]> {
    await Promise.all(
      servers.map(async (server) => {
        try {
          for (const path of ['/v2/health/ready', `${modelPath}/ready`]) {
            const response = await request(server, path, { method: 'GET' }, Math.min(timeoutMs, PROBE_TIMEOUT_MS));
            await response.arrayBuffer().catch(() => undefined);
            if (!response.ok) throw new RemoteRequestError(`${path} answered HTTP ${response.status}`, 'error');
          }
          markUp(server);
        } catch (error) {
          markDown(server, (error as Error).message);
        }
      }),
    );
    return status();
  }

  function status(): RemoteServerStatus[] {
    return servers.map(({ url, ready, error, checkedAt }) => ({ url, ready, error, checkedAt }));
  }

  return { infer, metadata, probe, status, model: options.model };
}

export type RemoteInferenceClient = ReturnType<typeof createRemoteInferenceClient>;

function encodeRequest(
  inputs: Record<string, RemoteTensor>,
  outputNames: readonly string[],
  binary: boolean,
): { body: Buffer; headers: Record<string, string> } {
  const entries = Object.entries(inputs);
  for (const [name, tensor] of entries) {
    const count = tensor.dims.reduce((a, b) => a * b, 1);
    if (count !== tensor.data.length) throw new Error(`Input '${name}' has ${tensor.data.length} values for shape [${tensor.dims.join(', ')}]`);
  }
  if (!binary) {
    const header = {
      inputs: entries.map(([name, t]) => ({ name, shape: [...t.dims], datatype: t.datatype ?? 'FP32', data: Array.from(t.data) })),
      outputs: outputNames.map((name) => ({ name, parameters: { binary_data: false } })),
    };
    return { body: Buffer.from(JSON.stringify(header)), headers: { 'content-type': 'application/json' } };
  }
  const tensors = entries.map(([, t]) => (t.datatype === 'FP16' ? toFloat16Bits(t.data) : t.data));
  const header = {
    inputs: entries.map(([name, t], i) => ({
      name,
      shape: [...t.dims],
      datatype: t.datatype ?? 'FP32',
      parameters: { binary_data_size: tensors[i]!.byteLength },
    })),
    outputs: outputNames.map((name) => ({ name, parameters: { binary_data: true } })),
  };
  const json = Buffer.from(JSON.stringify(header));
  // The protocol's binary tensors are little-endian, as is every platform Node runs on here.
  const parts = [json, ...tensors.map((t) => Buffer.from(t.buffer, t.byteOffset, t.byteLength))];
  return {
    body: Buffer.concat(parts),
    headers: { 'content-type': 'application/octet-stream', [HEADER_LENGTH]: String(json.length) },
  };
}

interface ResponseOutput {
  name?: unknown;
  datatype?: unknown;
  shape?: unknown;
  data?: unknown;
  parameters?: { binary_data_size?: unknown };
}

/** Parses an infer response (JSON, or JSON + binary tensors); anything inconsistent is an error, never a guess. */
export function decodeResponse(
  body: Buffer,
  headerLength: string | null,
  expected: readonly string[],
): Record<string, OutputTensor> {
  const jsonLength = headerLength === null ? body.length : Number(headerLength);
  if (!Number.isInteger(jsonLength) || jsonLength < 0 || jsonLength > body.length) {
    throw new RemoteRequestError(`bad ${HEADER_LENGTH} ${headerLength}`, 'error');
  }
  let header: { outputs?: unknown };
  try {
    header = JSON.parse(body.subarray(0, jsonLength).toString('utf8')) as { outputs?: unknown };
  } catch {
    throw new RemoteRequestError('the response is not valid JSON', 'error');
  }
  if (!Array.isArray(header.outputs)) throw new RemoteRequestError('the response has no outputs', 'error');
  const outputs: Record<string, OutputTensor> = {};
  let offset = jsonLength;
  for (const output of header.outputs as ResponseOutput[]) {
    const name = String(output.name);
    const dims = output.shape;
    if (!Array.isArray(dims) || !dims.every((d) => Number.isInteger(d) && d >= 0)) {
      throw new RemoteRequestError(`output '${name}' has no valid shape`, 'error');
    }
    const valueBytes = typeof output.datatype === 'string' ? VALUE_BYTES[output.datatype] : undefined;
    if (!valueBytes) {
      throw new RemoteRequestError(`output '${name}' is ${String(output.datatype)}; only FP32 and FP16 are supported`, 'error');
    }
    const count = (dims as number[]).reduce((a, b) => a * b, 1);
    let data: Float32Array;
    const binarySize = output.parameters?.binary_data_size;
    if (binarySize !== undefined) {
      if (binarySize !== count * valueBytes || offset + binarySize > body.length) {
        throw new RemoteRequestError(`output '${name}' has ${String(binarySize)} bytes of binary data for ${count} values`, 'error');
      }
      // Copy: the slice may not be aligned.
      const bytes = body.subarray(offset, offset + binarySize);
      if (valueBytes === 2) {
        const halves = new Uint16Array(count);
        new Uint8Array(halves.buffer).set(bytes);
        data = fromFloat16Bits(halves);
      } else {
        data = new Float32Array(count);
        new Uint8Array(data.buffer).set(bytes);
      }
      offset += binarySize;
    } else {
      const values = Array.isArray(output.data) ? (output.data as unknown[]).flat(Infinity) : null;
      if (!values || values.length !== count || !values.every((v) => typeof v === 'number')) {
        throw new RemoteRequestError(`output '${name}' does not hold ${count} numbers`, 'error');
      }
      data = Float32Array.from(values as number[]);
    }
    outputs[name] = { data, dims: dims as number[] };
  }
  for (const name of expected) {
    if (!outputs[name]) throw new RemoteRequestError(`the response lacks output '${name}'`, 'error');
  }
  return outputs;
}

function parseMetadata(value: unknown): RemoteModelMetadata {
  const meta = value as Partial<RemoteModelMetadata> | null;
  const tensors = (list: unknown, kind: string): RemoteTensorMetadata[] => {
    if (!Array.isArray(list)) throw new Error(`model metadata has no ${kind}`);
    return list.map((t: Partial<RemoteTensorMetadata>) => {
      if (typeof t?.name !== 'string' || typeof t.datatype !== 'string' || !Array.isArray(t.shape)) {
        throw new Error(`model metadata has a malformed ${kind} entry`);
      }
      return { name: t.name, datatype: t.datatype, shape: t.shape.map(Number) };
    });
  };
  if (!meta || typeof meta.name !== 'string') throw new Error('model metadata has no name');
  return {
    name: meta.name,
    ...(Array.isArray(meta.versions) ? { versions: meta.versions.map(String) } : {}),
    ...(typeof meta.platform === 'string' ? { platform: meta.platform } : {}),
    inputs: tensors(meta.inputs, 'inputs'),
    outputs: tensors(meta.outputs, 'outputs'),
  };
}

function describeFetchError(error: Error): string {
  // undici hides the socket error (ECONNREFUSED…) in `cause`.
  const cause = error.cause as { code?: string; message?: string } | undefined;
  return cause?.code ?? cause?.message ?? error.message;
}

function withJitter(ms: number): number {
  return ms * (0.75 + Math.random() * 0.5);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

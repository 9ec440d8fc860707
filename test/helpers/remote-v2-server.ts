/**
 * A small KServe v2 / Open Inference Protocol server (the subset Triton's HTTP endpoint
 * speaks that toolcontrol uses) running an ONNX file with onnxruntime-node, for tests of the
 * remote detector: health, model metadata, and infer with JSON data or Triton's binary
 * tensor extension. It can be stopped (every connection cut) and started again on the same port.
 */
import http from 'node:http';
import type net from 'node:net';
import * as ort from 'onnxruntime-node';

export interface V2Server {
  readonly url: string;
  readonly port: number;
  /** Infer requests answered so far. */
  readonly inferCount: number;
  /** When set, infer requests wait this long before answering (timeouts). */
  delayMs: number;
  /** When false, /v2/health/ready answers 503 and infer answers 503 as well. */
  ready: boolean;
  stop(): Promise<void>;
  start(): Promise<void>;
  close(): Promise<void>;
}

const DATATYPES: Record<string, string> = { float32: 'FP32', float16: 'FP16', int64: 'INT64', int32: 'INT32' };

export async function startV2Server(options: { modelPath: string; modelName: string; port?: number }): Promise<V2Server> {
  const session = await ort.InferenceSession.create(options.modelPath, { intraOpNumThreads: 1 });
  const describe = (list: readonly ort.InferenceSession.ValueMetadata[]) =>
    list.map((m) => ({
      name: m.name,
      datatype: m.isTensor ? (DATATYPES[m.type] ?? m.type.toUpperCase()) : 'BYTES',
      shape: m.isTensor ? m.shape.map((d) => (typeof d === 'number' ? d : -1)) : [],
    }));
  const metadata = {
    name: options.modelName,
    versions: ['1'],
    platform: 'onnxruntime_onnx',
    inputs: describe(session.inputMetadata),
    outputs: describe(session.outputMetadata),
  };

  const sockets = new Set<net.Socket>();
  let server: http.Server | null = null;
  let port = options.port ?? 0;
  let inferCount = 0;
  const state = { delayMs: 0, ready: true };

  const send = (res: http.ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  };

  async function infer(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks);
    const headerLength = req.headers['inference-header-content-length'];
    const jsonLength = headerLength ? Number(headerLength) : body.length;
    const request = JSON.parse(body.subarray(0, jsonLength).toString('utf8')) as {
      inputs: Array<{ name: string; shape: number[]; datatype: string; data?: number[]; parameters?: { binary_data_size?: number } }>;
      outputs?: Array<{ name: string; parameters?: { binary_data?: boolean } }>;
    };
    const feeds: Record<string, ort.Tensor> = {};
    let offset = jsonLength;
    for (const input of request.inputs) {
      if (input.datatype !== 'FP32') return send(res, 400, { error: `input '${input.name}' must be FP32` });
      let data: Float32Array;
      const size = input.parameters?.binary_data_size;
      if (size !== undefined) {
        data = new Float32Array(size / 4);
        new Uint8Array(data.buffer).set(body.subarray(offset, offset + size));
        offset += size;
      } else {
        data = Float32Array.from((input.data ?? []).flat(Infinity as 1) as number[]);
      }
      feeds[input.name] = new ort.Tensor('float32', data, input.shape);
    }
    let results: ort.InferenceSession.OnnxValueMapType;
    try {
      results = await session.run(feeds);
    } catch (error) {
      return send(res, 400, { error: (error as Error).message });
    }
    if (state.delayMs > 0) await new Promise((r) => setTimeout(r, state.delayMs));
    const requested = request.outputs ?? Object.keys(results).map((name) => ({ name, parameters: { binary_data: false } }));
    const binaries: Buffer[] = [];
    const outputs = requested.map(({ name, parameters }) => {
      const tensor = results[name] as ort.Tensor;
      const data = tensor.data as Float32Array;
      const base = { name, datatype: 'FP32', shape: [...tensor.dims] };
      if (parameters?.binary_data) {
        binaries.push(Buffer.from(data.buffer, data.byteOffset, data.byteLength));
        return { ...base, parameters: { binary_data_size: data.byteLength } };
      }
      return { ...base, data: Array.from(data) };
    });
    // A request whose connection was cut (server stopped) does not count as answered.
    if (res.destroyed || !res.socket || res.socket.destroyed) return;
    inferCount++;
    const json = Buffer.from(JSON.stringify({ model_name: options.modelName, model_version: '1', outputs }));
    if (binaries.length === 0) {
      res.writeHead(200, { 'content-type': 'application/json' }).end(json);
      return;
    }
    res
      .writeHead(200, { 'content-type': 'application/octet-stream', 'inference-header-content-length': String(json.length) })
      .end(Buffer.concat([json, ...binaries]));
  }

  const handler = (req: http.IncomingMessage, res: http.ServerResponse) => {
    const url = (req.url ?? '').split('?')[0];
    const model = `/v2/models/${options.modelName}`;
    if (req.method === 'GET' && (url === '/v2/health/ready' || url === `${model}/ready`)) {
      res.writeHead(state.ready ? 200 : 503).end();
    } else if (req.method === 'GET' && url === '/v2/health/live') {
      res.writeHead(200).end();
    } else if (req.method === 'GET' && url === model) {
      send(res, 200, metadata);
    } else if (req.method === 'POST' && (url === `${model}/infer` || url === `${model}/versions/1/infer`)) {
      if (!state.ready) return send(res, 503, { error: 'model not ready' });
      infer(req, res).catch((error: Error) => send(res, 500, { error: error.message }));
    } else {
      send(res, 404, { error: `unknown route ${req.method} ${url}` });
    }
  };

  const listen = () =>
    new Promise<void>((resolve, reject) => {
      const s = http.createServer(handler);
      s.keepAliveTimeout = 30_000;
      s.on('connection', (socket) => {
        sockets.add(socket);
        socket.on('close', () => sockets.delete(socket));
      });
      s.once('error', reject);
      s.listen(port, '127.0.0.1', () => {
        port = (s.address() as net.AddressInfo).port;
        server = s;
        resolve();
      });
    });

  const stop = async () => {
    for (const socket of sockets) socket.destroy();
    sockets.clear();
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    server = null;
  };

  await listen();
  return {
    get url() {
      return `http://127.0.0.1:${port}`;
    },
    get port() {
      return port;
    },
    get inferCount() {
      return inferCount;
    },
    get delayMs() {
      return state.delayMs;
    },
    set delayMs(value: number) {
      state.delayMs = value;
    },
    get ready() {
      return state.ready;
    },
    set ready(value: boolean) {
      state.ready = value;
    },
    stop,
    start: listen,
    async close() {
      await stop();
      await session.release();
    },
  };
}

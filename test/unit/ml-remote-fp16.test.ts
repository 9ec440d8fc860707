/**
 * The remote (KServe v2 / Triton) detector with a float16 model: the server's metadata says
 * FP16, so the letterboxed image goes out as FP16 and FP16 outputs come back. A small server
 * here runs the fp16 fixture with onnxruntime and accepts nothing but FP16.
 */
import http from 'node:http';
import type net from 'node:net';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toFloat16Bits } from '../../src/ml/float16.js';
import { createOnnxDetector, type OnnxDetector } from '../../src/ml/onnx-detector.js';
import { createRemoteDetector } from '../../src/ml/remote-detector.js';
import { decodeResponse } from '../../src/ml/remote-inference-client.js';
import { silentLogger } from '../helpers/databases.js';

const fixture = (name: string) => fileURLToPath(new URL(`../fixtures/onnx/${name}`, import.meta.url));

/** Half bits → number, written out from the definition (independent of src/ml/float16.ts). */
function halfValue(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const fraction = bits & 0x3ff;
  if (exponent === 0) return sign * fraction * 2 ** -24;
  return sign * (1 + fraction / 1024) * 2 ** (exponent - 15);
}

interface Fp16Server {
  url: string;
  requests: Array<{ datatype: string; bytes: number | null; json: boolean }>;
  close(): Promise<void>;
}

async function startFp16Server(modelPath: string): Promise<Fp16Server> {
  const session = await ort.InferenceSession.create(modelPath, { intraOpNumThreads: 1 });
  const requests: Fp16Server['requests'] = [];
  const metadata = {
    name: 'm',
    versions: ['1'],
    platform: 'onnxruntime_onnx',
    inputs: [{ name: 'images', datatype: 'FP16', shape: [1, 3, 320, 320] }],
    outputs: [{ name: 'output0', datatype: 'FP16', shape: [1, 7, 9] }],
  };
  const server = http.createServer((req, res) => {
    const send = (status: number, body: unknown) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    if (req.method === 'GET' && req.url === '/v2/models/m') return send(200, metadata);
    if (req.method === 'GET') return void res.writeHead(200).end();
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void (async () => {
        const body = Buffer.concat(chunks);
        const headerLength = req.headers['inference-header-content-length'];
        const jsonLength = headerLength ? Number(headerLength) : body.length;
        const request = JSON.parse(body.subarray(0, jsonLength).toString()) as {
          inputs: Array<{ name: string; datatype: string; shape: number[]; data?: number[]; parameters?: { binary_data_size?: number } }>;
          outputs: Array<{ name: string; parameters?: { binary_data?: boolean } }>;
        };
        const input = request.inputs[0]!;
        const size = input.parameters?.binary_data_size ?? null;
        requests.push({ datatype: input.datatype, bytes: size, json: size === null });
        if (input.datatype !== 'FP16') return send(400, { error: `input must be FP16, got ${input.datatype}` });
        let bits: Uint16Array;
        if (size !== null) {
          bits = new Uint16Array(size / 2);
          new Uint8Array(bits.buffer).set(body.subarray(jsonLength, jsonLength + size));
        } else {
          // JSON carries numbers: the server rounds them to halves (the conversion has its own tests).
          bits = toFloat16Bits(Float32Array.from(input.data!));
        }
        const results = await session.run({ images: new ort.Tensor('float16', bits, input.shape) });
        const output = results.output0!;
        const data = output.data as Uint16Array;
        const binary = request.outputs[0]?.parameters?.binary_data === true;
        const header = {
          outputs: [
            binary
              ? { name: 'output0', datatype: 'FP16', shape: output.dims, parameters: { binary_data_size: data.byteLength } }
              : { name: 'output0', datatype: 'FP16', shape: output.dims, data: Array.from(data, halfValue) },
          ],
        };
        const json = Buffer.from(JSON.stringify(header));
        if (!binary) return void res.writeHead(200, { 'content-type': 'application/json' }).end(json);
        res
          .writeHead(200, { 'content-type': 'application/octet-stream', 'inference-header-content-length': String(json.length) })
          .end(Buffer.concat([json, Buffer.from(data.buffer, data.byteOffset, data.byteLength)]));
      })().catch((error: Error) => send(500, { error: error.message }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`,
    requests,
    close: async () => {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
      await session.release();
    },
  };
}

let server: Fp16Server;
let local: OnnxDetector;
let image: Buffer;

beforeAll(async () => {
  server = await startFp16Server(fixture('detect-fp16.onnx'));
  local = await createOnnxDetector({ modelPath: fixture('detect-fp16.onnx'), threads: 1 });
  image = await sharp({ create: { width: 640, height: 350, channels: 3, background: { r: 90, g: 120, b: 150 } } }).png().toBuffer();
});
afterAll(async () => {
  await local?.close();
  await server?.close();
});

describe.each([{ binary: true }, { binary: false }])('remote float16 model (binary tensors: $binary)', ({ binary }) => {
  it('sends FP16, reads FP16 back and gives the in-process detections to the pixel', async () => {
    const remote = await createRemoteDetector({
      urls: [server.url],
      modelName: 'm',
      timeoutMs: 10_000,
      binary,
      localModelPath: fixture('detect-fp16.onnx'),
      probeIntervalMs: 0,
      logger: silentLogger,
    });
    try {
      const before = server.requests.length;
      const got = await remote.detect(image, { confidence: 0.34 });
      expect(server.requests.slice(before)).toEqual([{ datatype: 'FP16', bytes: binary ? 2 * 3 * 320 * 320 : null, json: !binary }]);
      expect(got.detections).toEqual((await local.detect(image, { confidence: 0.34 })).detections);
      // The probe score is the image's red value as the server's float16 input held it.
      expect(got.detections.at(-1)).toMatchObject({ classId: 0, confidence: 0.35302734375, box: { x1: 240, y1: 256, x2: 360, y2: 350 } });
    } finally {
      await remote.close();
    }
  });
});

describe('decodeResponse with FP16 outputs', () => {
  it('reads binary halves at an odd offset and refuses a size that does not fit', () => {
    const json = Buffer.from(JSON.stringify({ outputs: [{ name: 'o', datatype: 'FP16', shape: [1, 3], parameters: { binary_data_size: 6 } }] }) + ' ');
    const halves = Buffer.from(Uint16Array.from([0x3c00, 0xc000, 0x3555]).buffer);
    const out = decodeResponse(Buffer.concat([json, halves]), String(json.length), ['o']);
    expect(Array.from(out.o!.data)).toEqual([1, -2, 0.333251953125]);
    const wrong = Buffer.from(JSON.stringify({ outputs: [{ name: 'o', datatype: 'FP16', shape: [1, 3], parameters: { binary_data_size: 12 } }] }));
    expect(() => decodeResponse(Buffer.concat([wrong, Buffer.alloc(12)]), String(wrong.length), ['o'])).toThrow(/12 bytes of binary data for 3 values/);
    const int8 = Buffer.from(JSON.stringify({ outputs: [{ name: 'o', datatype: 'INT8', shape: [1], data: [1] }] }));
    expect(() => decodeResponse(int8, null, ['o'])).toThrow(/only FP32 and FP16/);
  });
});

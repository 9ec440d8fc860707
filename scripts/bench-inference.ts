/**
 * npm run bench:inference [-- --runs N --requests N]
 *
 * For rendered kit photos of 640×480, 1920×1080 and 4000×3000 (JPEG):
 *   raw       the model's session.run median (the tensor already prepared)
 *   pipeline  bytes in → detections out (decode, orient, letterbox, run, NMS, scale back), no annotation
 *   floor     what the JPEG costs to decode at all: its header read, then libvips at the smallest
 *             DCT scale (1/8), no resize, no tensor; whatever the pipeline does, it pays at least this
 * and their ratio, with (raw + floor) / raw, the lowest ratio any pipeline on this decoder could
 * reach; then POST /predict/ throughput over real HTTP at concurrency 1 and 4 against the raw
 * session throughput, all measured in this one run.
 *
 * `npm run bench:inference` runs it with the service's malloc settings (scripts/runtime-env.sh).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { createApp } from '../src/app.js';
import { loadConfig } from '../src/config/index.js';
import { openDatabase } from '../src/db/client.js';
import { REFERENCE_KIT_NAME } from '../src/db/seed.js';
import { createOnnxDetector } from '../src/ml/onnx-detector.js';
import { createLogger } from '../src/shared/logger.js';
import { renderScene } from '../src/synth/scene.js';

const { values } = parseArgs({
  options: { runs: { type: 'string', default: '30' }, requests: { type: 'string', default: '40' } },
});
const RUNS = Number(values.runs);
const REQUESTS = Number(values.requests);
const SIZES: Array<[number, number]> = [
  [640, 480],
  [1920, 1080],
  [4000, 3000],
];

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};
const fmt = (n: number, digits = 1) => n.toFixed(digits).padStart(8);

async function main() {
  const config = loadConfig({ ...process.env, LOG_LEVEL: 'silent' });
  const detector = await createOnnxDetector({ modelPath: config.model.path, maxQueue: 64 });
  console.log(`model ${config.model.path}`);
  console.log(`      sha256 ${detector.info.sha256.slice(0, 16)}…, imgsz ${detector.info.imgsz.join('×')}, task ${detector.info.task}`);
  console.log(`runs per size: ${RUNS} (after 3 warm-up runs)\n`);

  const photos = new Map<string, Buffer>();
  for (const [w, h] of SIZES) {
    photos.set(`${w}x${h}`, (await renderScene({ seed: 424242, width: w, height: h, kit: 'full' })).jpeg);
  }

  console.log(`sharp: ${sharp.concurrency()} libvips thread(s); MALLOC_ARENA_MAX=${process.env.MALLOC_ARENA_MAX ?? 'unset'}\n`);
  console.log('image         JPEG KB    raw ms   pipeline ms   ratio   (decode / inference / postprocess ms)   decode floor ms   (raw + floor) / raw');
  let rawAll: number[] = [];
  for (const [label, jpeg] of photos) {
    const prepared = await detector.prepare(jpeg);
    const decodeOnly = decodeFloor(jpeg);
    for (let i = 0; i < 3; i++) {
      await detector.runRaw(prepared);
      await detector.detect(jpeg, { confidence: 0.25 });
      await decodeOnly();
    }
    const raw: number[] = [];
    const pipeline: number[] = [];
    const floor: number[] = [];
    const stages = { decode: [] as number[], inference: [] as number[], postprocess: [] as number[] };
    for (let i = 0; i < RUNS; i++) {
      raw.push((await detector.runRaw(prepared)).runMs);
      const started = performance.now();
      const result = await detector.detect(jpeg, { confidence: 0.25 });
      pipeline.push(performance.now() - started);
      stages.decode.push(result.timings.decode);
      stages.inference.push(result.timings.inference);
      stages.postprocess.push(result.timings.postprocess);
      const floorStarted = performance.now();
      await decodeOnly();
      floor.push(performance.now() - floorStarted);
    }
    rawAll = rawAll.concat(raw);
    console.log(
      `${label.padEnd(11)} ${fmt(jpeg.length / 1024, 0)} ${fmt(median(raw))} ${fmt(median(pipeline))}      ${(median(pipeline) / median(raw)).toFixed(2)}    (${median(stages.decode).toFixed(1)} / ${median(stages.inference).toFixed(1)} / ${median(stages.postprocess).toFixed(1)})        ${fmt(median(floor))}          ${((median(raw) + median(floor)) / median(raw)).toFixed(2)}`,
    );
  }
  const rawMedian = median(rawAll);
  await detector.close();

  // HTTP: the real app on a real port, its own detector, embedded database in a temp folder.
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'toolcontrol-bench-'));
  const database = await openDatabase({ url: null, pgliteDir: null, logger: createLogger('silent') });
  // The same photo is posted again and again: without RESULT_CACHE_TTL=0 the detection cache
  // would answer all but the first, and the figures would leave out the model they compare with.
  const appConfig = loadConfig({
    ...process.env,
    LOG_LEVEL: 'silent',
    DATA_DIR: tmp,
    ADMIN_PASSWORD: 'bench-password',
    INFERENCE_QUEUE: '64',
    RESULT_CACHE_TTL: '0',
  });
  const { app, close } = await createApp(appConfig, { database });
  try {
    const address = await app.listen({ port: 0, host: '127.0.0.1' });
    const login = await fetch(`${address}/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ employee_number: appConfig.admin.employeeNumber, password: 'bench-password' }),
    }).then((r) => r.json());
    const auth = { authorization: `Bearer ${login.access_token}` };
    const kits = await fetch(`${address}/api/v1/toolkits`, { headers: auth }).then((r) => r.json());
    const kit = (kits.items as Array<{ id: number; name: string }>).find((k) => k.name === REFERENCE_KIT_NAME)!;
    const jpeg = photos.get('1920x1080')!;

    const post = async () => {
      const form = new FormData();
      form.append('toolkit_id', String(kit.id));
      form.append('image', new Blob([new Uint8Array(jpeg)], { type: 'image/jpeg' }), 'kit.jpg');
      const res = await fetch(`${address}/predict/`, { method: 'POST', headers: auth, body: form });
      if (res.status !== 200) throw new Error(`POST /predict/ → ${res.status} ${await res.text()}`);
      const body = (await res.json()) as { timings_ms: { cache?: string } };
      if (body.timings_ms.cache === 'hit') throw new Error('POST /predict/ was answered from the result cache; the figures would not include the model');
    };
    for (let i = 0; i < 3; i++) await post();

    const rawThroughput = 1000 / rawMedian;
    console.log(`\nPOST /predict/ (1920×1080 JPEG, with annotation and storage), ${REQUESTS} requests`);
    console.log(`raw session throughput: ${rawThroughput.toFixed(1)} images/s (1000 / raw median ${rawMedian.toFixed(1)} ms)`);
    for (const concurrency of [1, 4]) {
      let next = 0;
      const started = performance.now();
      await Promise.all(
        Array.from({ length: concurrency }, async () => {
          while (next < REQUESTS) {
            next++;
            await post();
          }
        }),
      );
      const seconds = (performance.now() - started) / 1000;
      const throughput = REQUESTS / seconds;
      console.log(
        `concurrency ${concurrency}: ${throughput.toFixed(1)} images/s (${((seconds * 1000) / REQUESTS).toFixed(0)} ms per image), ${((throughput / rawThroughput) * 100).toFixed(0)} % of raw`,
      );
    }
  } finally {
    await close();
    await database.close();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

/**
 * Decoding the JPEG and nothing else, at libjpeg's smallest scale: a resize by more than 8
 * (not exactly 8, which sharp lowers to 4) makes sharp shrink by 8 while decoding; nearest
 * neighbour then costs next to nothing. The entropy-coded data is read whole at any scale.
 */
function decodeFloor(jpeg: Buffer): () => Promise<unknown> {
  return async () => {
    const { width = 0, height = 0 } = await sharp(jpeg).metadata();
    return sharp(jpeg, { sequentialRead: true, ignoreIcc: true })
      .resize(Math.max(1, Math.floor(width / 8.5)), Math.max(1, Math.floor(height / 8.5)), { fit: 'fill', kernel: 'nearest' })
      .raw()
      .toBuffer();
  };
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});

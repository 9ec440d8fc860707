/**
 * How refused requests are logged: a 503 the service gives by design (its recognition queue
 * is full: load shedding, with Retry-After) is a warning without a stack trace; a fault (500)
 * stays an error with its stack.
 */
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Detector } from '../../src/ml/detector.js';
import { ServiceUnavailableError } from '../../src/shared/errors.js';
import { buildTestApp, type TestApp } from '../helpers/app.js';
import { solidJpeg } from '../helpers/fake-detector.js';
import { multipartBody } from '../helpers/multipart.js';
import { createUser } from '../helpers/users.js';

describe('logging of refused requests', () => {
  let t: TestApp;
  let auth: Record<string, string>;
  let kitId: number;
  let answer: () => never;
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(line));
      done();
    },
  });

  beforeAll(async () => {
    const detector: Detector = {
      info: { sha256: 'e'.repeat(64), path: '/models/refusing.onnx', task: 'detect', names: { 0: 'pliers' }, imgsz: [416, 416], stride: 32, batch: 1 },
      detect: async () => answer(),
      close: async () => undefined,
    };
    t = await buildTestApp({ overrides: { detector, logger: pino({ level: 'info' }, sink) } });
    auth = (await createUser(t, await t.login(), 'engineer', 'log-eng')).auth;
    kitId = (await t.app.inject({ url: '/api/v1/toolkits', headers: auth })).json().items[0].id;
  });
  afterAll(() => t?.close());

  const predict = async () => {
    const body = await multipartBody({ toolkit_id: kitId }, [{ field: 'image', data: await solidJpeg([90, 90, 90]) }]);
    return t.app.inject({ method: 'POST', url: '/predict/', headers: { ...auth, ...body.headers }, payload: body.payload });
  };
  const linesOf = (requestId: string) => lines.filter((l) => l.reqId === requestId && l.msg !== 'incoming request' && l.msg !== 'request completed');

  it('logs a full recognition queue (503, Retry-After) as a warning without a stack', async () => {
    answer = () => {
      throw new ServiceUnavailableError('inference.queue_full', 'The recognition queue is full; retry shortly', 3);
    };
    const res = await predict();
    expect(res.statusCode).toBe(503);
    expect(res.headers['retry-after']).toBe('3');
    const logged = linesOf(res.headers['x-request-id'] as string);
    expect(logged).toEqual([expect.objectContaining({ level: 40, code: 'inference.queue_full', retryAfter: 3 })]);
    expect(logged[0]).not.toHaveProperty('err');
  });

  it('logs a fault (500) as an error with its stack', async () => {
    answer = () => {
      throw new Error('session exploded');
    };
    const res = await predict();
    expect(res.statusCode).toBe(500);
    const logged = linesOf(res.headers['x-request-id'] as string);
    expect(logged).toEqual([expect.objectContaining({ level: 50, err: expect.objectContaining({ stack: expect.stringContaining('session exploded') }) })]);
  });
});

/**
 * Tasks the queue lost are queued again from the database. With Redis the API writes a
 * job, then queues its tasks; if it dies in between, or Redis loses its data, the job's
 * items stay pending with nothing in the queue. Workers look for such items at start and
 * then regularly, and queue again only what the queue does not hold.
 */
import crypto from 'node:crypto';
import { Queue } from 'bullmq';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jobs as jobsTable } from '../../src/db/schema/index.js';
import { createBullmqQueue, ITEMS_QUEUE } from '../../src/jobs/bullmq-queue.js';
import { REQUEUE_AFTER_MS } from '../../src/jobs/index.js';
import { createInProcessQueue } from '../../src/jobs/in-process-queue.js';
import { taskId, type ItemTask, type JobQueue } from '../../src/jobs/queue.js';
import { buildTestApp, type TestApp } from '../helpers/app.js';
import { silentLogger, TEST_REDIS_URL } from '../helpers/databases.js';
import { createScriptedDetector, FULL_KIT, solidJpeg } from '../helpers/fake-detector.js';
import { multipartBody } from '../helpers/multipart.js';

describe('pending items the queue lost', () => {
  let t: TestApp;
  let auth: Record<string, string>;
  let kitId: number;
  /** Stands in for BullMQ: the API does not process, and `losing` drops what is queued. */
  let losing = true;
  const scheduled: string[] = [];
  const enqueued: ItemTask[] = [];

  beforeAll(async () => {
    const inner = createInProcessQueue({ concurrency: 2, logger: silentLogger });
    const queue: JobQueue = {
      ...inner,
      kind: 'bullmq',
      async enqueue(tasks) {
        if (losing) return;
        enqueued.push(...tasks);
        await inner.enqueue(tasks);
      },
      async schedule(name, everyMs, fn) {
        scheduled.push(name);
        await inner.schedule(name, everyMs, fn);
      },
    };
    t = await buildTestApp({ overrides: { detector: createScriptedDetector(() => FULL_KIT), jobQueue: queue }, env: { RESULT_CACHE_TTL: '0' } });
    auth = { authorization: `Bearer ${await t.login()}` };
    kitId = (await t.app.inject({ url: '/api/v1/toolkits', headers: auth })).json().items[0].id;
  });
  afterAll(() => t?.close());

  const submit = async (colour: number) => {
    const files = await Promise.all([0, 1, 2].map(async (i) => ({ field: 'images', filename: `p${i}.jpg`, data: await solidJpeg([colour, i * 40, 9]) })));
    const body = await multipartBody({ toolkit_id: kitId }, files);
    const res = await t.app.inject({ method: 'POST', url: '/api/v1/jobs', headers: { ...auth, ...body.headers }, payload: body.payload });
    expect(res.statusCode, res.body).toBe(202);
    return res.json().job_id as string;
  };
  const state = async (id: string) => (await t.app.inject({ url: `/api/v1/jobs/${id}`, headers: auth })).json();

  it('a worker starting up queues again the items of a job whose tasks were lost, but not those of a job just written', async () => {
    const old = await submit(10);
    const young = await submit(200);
    // The old job was written long enough ago that its tasks should have run by now.
    await t.deps.db
      .update(jobsTable)
      .set({ createdAt: new Date(Date.now() - REQUEUE_AFTER_MS - 5_000) })
      .where(eq(jobsTable.id, old));
    expect((await state(old)).state).toBe('queued');

    losing = false;
    await t.deps.jobs.startProcessing();
    expect(scheduled).toContain('requeue-lost-items');
    expect(new Set(enqueued.map((task) => task.jobId))).toEqual(new Set([old]));

    for (let i = 0; i < 200 && (await state(old)).state !== 'completed'; i++) await new Promise((r) => setTimeout(r, 50));
    expect(await state(old)).toMatchObject({ state: 'completed', processed: 3, failed: 0 });
    expect((await state(young)).state).toBe('queued');

    // A second sweep finds nothing to add: the old job is done, the young one is too young.
    expect(await t.deps.jobs.service.recover({ olderThanMs: REQUEUE_AFTER_MS })).toBe(0);
    // Once old enough, the young job's lost tasks are queued too; tasks the queue holds are not added twice.
    expect(await t.deps.jobs.service.recover({ olderThanMs: 0 })).toBe(3);
    expect(await t.deps.jobs.service.recover({ olderThanMs: 0 })).toBe(0);
    for (let i = 0; i < 200 && (await state(young)).state !== 'completed'; i++) await new Promise((r) => setTimeout(r, 50));
    expect(await state(young)).toMatchObject({ state: 'completed', processed: 3 });
    expect(enqueued.filter((task) => task.jobId === young)).toHaveLength(3);
  });
});

describe.skipIf(!TEST_REDIS_URL)('BullMQ: which tasks the queue holds', () => {
  const queue = createBullmqQueue({ redisUrl: TEST_REDIS_URL!, logger: silentLogger, concurrency: 1, stallMs: 30_000 });
  const jobId = crypto.randomUUID();
  const held: ItemTask = { jobId, itemId: 1 };
  const lost: ItemTask = { jobId, itemId: 2 };
  afterAll(async () => {
    const admin = new Queue(ITEMS_QUEUE, { connection: { url: TEST_REDIS_URL! } });
    await admin.remove(taskId(held));
    await admin.close();
    await queue.close();
  });

  it('reports only the tasks Redis does not have', async () => {
    await queue.enqueue([held]);
    expect(await queue.missing([held, lost])).toEqual([lost]);
  });
});

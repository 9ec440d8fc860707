/**
 * A job cancelled while one of its photos is being picked up: the cancel's clean-up removes
 * the photo between the runner's look at the job and its read of the photo. The item is then
 * left as the cancel left it (not processed), not reported as failed because its photo is
 * gone. On PGlite and on PostgreSQL.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../../src/db/client.js';
import { createFsMediaStore, type MediaStore } from '../../src/media/media-store.js';
import { createMetrics } from '../../src/metrics/metrics.js';
import { createJobsRepository } from '../../src/repositories/jobs.js';
import { createJobRunner } from '../../src/services/job-runner.js';
import { systemClock } from '../../src/shared/clock.js';
import { createLogger } from '../../src/shared/logger.js';
import { BACKENDS, openSeededDatabase } from '../helpers/databases.js';

describe.each(BACKENDS)('a job cancelled while its photo is picked up, on %s', (backend) => {
  let database: Database;
  let dispose: () => Promise<void>;
  let userId: number;
  let toolkitId: number;
  let root: string;

  beforeAll(async () => {
    ({ database, dispose, adminId: userId, toolkitId } = await openSeededDatabase(backend));
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'toolcontrol-cancel-race-'));
  });
  afterAll(async () => {
    await dispose?.();
    fs.rmSync(root, { recursive: true, force: true });
  });

  it('leaves the item unprocessed instead of failing it with 410 job.input_missing', async () => {
    const jobs = createJobsRepository(database.db);
    const store = createFsMediaStore({ root });
    const keys = ['jobs/2026/12/race-0.jpg', 'jobs/2026/12/race-1.jpg'];
    for (const key of keys) await store.put(key, Buffer.from('photo bytes'), 'image/jpeg');
    const { job, items } = await jobs.create(
      { userId, toolkitId, source: 'zip', archiveSha256: 'e'.repeat(64), total: 2 },
      keys.map((key, i) => ({ entryIndex: i, entryName: `race-${i}.jpg`, imageSha256: 'f'.repeat(64), sourceKey: key })),
    );

    // The cancel lands just as the runner reads the first photo: the job is cancelled and its
    // photos removed, as job-service's cancel does.
    const racing: MediaStore = {
      ...store,
      async get(key) {
        await jobs.cancel(job.id, new Date());
        for (const k of keys) await store.delete(k);
        return store.get(key);
      },
    };
    let predicted = 0;
    const runner = createJobRunner({
      jobs,
      predictions: {
        predictStored: async () => {
          predicted++;
          throw new Error('no photo should reach recognition');
        },
      },
      predictionRows: { delete: async () => undefined },
      media: racing,
      metrics: createMetrics(),
      clock: systemClock,
      logger: createLogger('silent'),
    });

    await runner.run({ jobId: job.id, itemId: items[0]!.id }, { attempt: 1, final: true });

    expect(predicted).toBe(0);
    const after = (await jobs.findById(job.id))!;
    expect(after).toMatchObject({ state: 'cancelled', processed: 0, failed: 0 });
    const [first] = await jobs.listItems(job.id);
    expect(first).toMatchObject({ entryName: 'race-0.jpg', state: 'pending', error: null });
  });
});

/**
 * A job cancelled while one of its photos is in work. The cancel's clean-up removes the job's
 * photos, so whatever the runner then reports for that item is not recorded: the item stays
 * as the cancel left it (not processed). Not failed because its photo is gone, and not done
 * with a preview whose photo is gone (its image would be a 404). On PGlite and on PostgreSQL.
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

  /** A runner on the real jobs repository and the given media store, recognition and preview rows. */
  const runnerWith = (deps: Pick<Parameters<typeof createJobRunner>[0], 'jobs' | 'predictions' | 'predictionRows' | 'media'>) =>
    createJobRunner({ ...deps, metrics: createMetrics(), clock: systemClock, logger: createLogger('silent') });

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
    const runner = runnerWith({
      jobs,
      predictions: {
        predictStored: async () => {
          predicted++;
          throw new Error('no photo should reach recognition');
        },
      },
      predictionRows: { delete: async () => undefined },
      media: racing,
    });

    await runner.run({ jobId: job.id, itemId: items[0]!.id }, { attempt: 1, final: true });

    expect(predicted).toBe(0);
    const after = (await jobs.findById(job.id))!;
    expect(after).toMatchObject({ state: 'cancelled', processed: 0, failed: 0 });
    const [first] = await jobs.listItems(job.id);
    expect(first).toMatchObject({ entryName: 'race-0.jpg', state: 'pending', error: null });
  });

  it('does not record a photo recognised while the job was cancelled, and removes the preview made for it', async () => {
    const jobs = createJobsRepository(database.db);
    const store = createFsMediaStore({ root });
    const key = 'jobs/2026/12/late-0.jpg';
    await store.put(key, Buffer.from('photo bytes'), 'image/jpeg');
    const { job, items } = await jobs.create(
      { userId, toolkitId, source: 'zip', archiveSha256: 'a1'.repeat(32), total: 1 },
      [{ entryIndex: 0, entryName: 'late-0.jpg', imageSha256: 'b2'.repeat(32), sourceKey: key }],
    );
    const previewKey = 'previews/2026/12/late-0_annotated.jpg';
    await store.put(previewKey, Buffer.from('annotated'), 'image/jpeg');
    const deletedRows: string[] = [];
    const runner = runnerWith({
      jobs,
      predictions: {
        // The cancel (and its clean-up) lands while the model runs.
        predictStored: async () => {
          await jobs.cancel(job.id, new Date());
          await store.delete(key);
          return { prediction: { id: 'preview-4242', image_url: `/media/${previewKey}` } as never, photoTaken: true };
        },
      },
      predictionRows: { delete: async (id: string) => void deletedRows.push(id) },
      media: store,
    });

    await runner.run({ jobId: job.id, itemId: items[0]!.id }, { attempt: 1, final: true });

    expect(await jobs.findById(job.id)).toMatchObject({ state: 'cancelled', processed: 0, failed: 0 });
    expect((await jobs.listItems(job.id))[0]).toMatchObject({ state: 'pending', predictionId: null, result: null });
    expect(deletedRows).toEqual(['preview-4242']);
    expect(await store.exists(previewKey)).toBe(false);
  });
});

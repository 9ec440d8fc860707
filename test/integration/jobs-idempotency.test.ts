/**
 * An item's outcome counts once, however many times (and however concurrently) its
 * task runs; the job finishes exactly once. On PGlite and on PostgreSQL.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../../src/db/client.js';
import { createJobsRepository } from '../../src/repositories/jobs.js';
import { BACKENDS, openSeededDatabase } from '../helpers/databases.js';

describe.each(BACKENDS)('jobs repository on %s', (backend) => {
  let database: Database;
  let dispose: () => Promise<void>;
  let userId: number;
  let toolkitId: number;

  beforeAll(async () => {
    ({ database, dispose, adminId: userId, toolkitId } = await openSeededDatabase(backend));
  });
  afterAll(() => dispose?.());

  const newJob = async (total: number) => {
    const repo = createJobsRepository(database.db);
    return repo.create(
      { userId, toolkitId, source: 'zip', archiveSha256: 'a'.repeat(64), total },
      Array.from({ length: total }, (_, i) => ({ entryIndex: i, entryName: `photo-${i}.jpg`, imageSha256: 'b'.repeat(64), sourceKey: null })),
    );
  };

  it('counts every item once when each task runs twice at the same time, and finishes the job once', async () => {
    const repo = createJobsRepository(database.db);
    const { job, items } = await newJob(20);
    const now = new Date();
    const runs = items.flatMap((item) =>
      [0, 1].map((n) =>
        repo.finishItem(job.id, item.id, item.entryIndex % 5 === 0 ? { state: 'failed', error: { status: 422, code: 'image.corrupt', detail: `run ${n}` } } : { state: 'done', result: { run: n } }, now),
      ),
    );
    const outcomes = await Promise.all(runs);
    expect(outcomes.filter((o) => o.counted)).toHaveLength(20);
    expect(outcomes.filter((o) => o.finished)).toHaveLength(1);
    const after = (await repo.findById(job.id))!;
    expect(after).toMatchObject({ state: 'completed', processed: 20, failed: 4, total: 20 });
    expect(after.finishedAt).toBeInstanceOf(Date);
    const listed = await repo.listItems(job.id);
    expect(new Set(listed.map((i) => i.entryName)).size).toBe(20);
    expect(listed.every((i) => i.state !== 'pending')).toBe(true);
  });

  it('refuses a second row for the same entry of a job', async () => {
    const repo = createJobsRepository(database.db);
    await expect(
      repo.create({ userId, toolkitId, source: 'zip', archiveSha256: 'c'.repeat(64), total: 2 }, [
        { entryIndex: 0, entryName: 'same.jpg', imageSha256: 'd'.repeat(64) },
        { entryIndex: 1, entryName: 'same.jpg', imageSha256: 'd'.repeat(64) },
      ]),
    ).rejects.toThrow();
  });

  it('marks a job failed when every image failed, and does not count items of a cancelled job as finishing it', async () => {
    const repo = createJobsRepository(database.db);
    const failing = await newJob(2);
    for (const item of failing.items) await repo.finishItem(failing.job.id, item.id, { state: 'failed', error: { status: 415, code: 'x', detail: 'x' } }, new Date());
    expect(await repo.findById(failing.job.id)).toMatchObject({ state: 'failed', failed: 2, error: expect.stringContaining('Every image failed') });

    const cancelled = await newJob(2);
    expect(await repo.cancel(cancelled.job.id, new Date())).toMatchObject({ state: 'cancelled' });
    for (const item of cancelled.items) await repo.finishItem(cancelled.job.id, item.id, { state: 'done', result: {} }, new Date());
    expect(await repo.findById(cancelled.job.id)).toMatchObject({ state: 'cancelled' });
    expect(await repo.cancel(cancelled.job.id, new Date())).toBeNull();
  });
});

/**
 * Reading a job's results at scale: pages in SQL, the summary counted in SQL (the same as
 * `summarise` over every result), and the event stream reading only what finished since
 * its last look. On PGlite and on PostgreSQL.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../../src/db/client.js';
import { createJobsRepository, type JobsRepository } from '../../src/repositories/jobs.js';
import { createJobService, summaryOfItems, jobSummary, type JobEvent } from '../../src/services/job-service.js';
import { BACKENDS, openSeededDatabase, silentLogger } from '../helpers/databases.js';

type Missing = Array<{ class_key: string; count: number }>;
const prediction = (status: string, missing: Missing) => ({ id: 'p', comparison: { status, match_percentage: 50, missing, extra: [] }, detections: [{ x: 1 }] });

describe.each(BACKENDS)('job results on %s', (backend) => {
  let database: Database;
  let dispose: () => Promise<void>;
  let userId: number;
  let toolkitId: number;
  let repo: JobsRepository;

  beforeAll(async () => {
    ({ database, dispose, adminId: userId, toolkitId } = await openSeededDatabase(backend));
    repo = createJobsRepository(database.db);
  });
  afterAll(() => dispose?.());

  let archives = 0;
  const newJob = (total: number) =>
    repo.create(
      { userId, toolkitId, source: 'zip', archiveSha256: String(++archives).padStart(64, '0'), total, skipped: [{ entry_name: 'x.txt', reason: 'not_an_image', detail: 'x' }] },
      Array.from({ length: total }, (_, i) => ({ entryIndex: i, entryName: `photo-${i}.jpg`, imageSha256: 'b'.repeat(64), sourceKey: null })),
    );

  it('pages the finished items in entry order and counts the summary as summarise does', async () => {
    const { job, items } = await newJob(25);
    // Finished out of entry order; a few stay pending. Classes first appear in a different
    // order than their names sort, and repeat with counts above one.
    const order = [...items].reverse();
    const base = Date.now();
    for (const [n, item] of order.entries()) {
      const i = item.entryIndex;
      if (i % 7 === 3) continue; // pending: 3, 10, 17, 24
      const outcome =
        i % 5 === 4
          ? { state: 'failed' as const, error: { status: 422, code: 'image.corrupt', detail: `photo ${i}` } }
          : {
              state: 'done' as const,
              result:
                i % 3 === 0
                  ? prediction('success', [])
                  : prediction(i % 2 ? 'discrepancy' : 'manual_check', [
                      { class_key: i < 12 ? 'wrench' : 'pliers', count: 1 + (i % 3) },
                      { class_key: 'adjustable_spanner', count: 1 },
                    ]),
            };
      await repo.finishItem(job.id, item.id, outcome, new Date(base + n));
    }

    const all = await repo.listItems(job.id);
    const finished = all.filter((i) => i.state !== 'pending');
    expect(finished).toHaveLength(21);
    const after = (await repo.findById(job.id))!;
    const inMemory = summaryOfItems(after, all);
    const counted = jobSummary(after, await repo.resultTotals(job.id));
    expect(counted).toEqual(inMemory);
    // The same JSON, key order included.
    expect(JSON.stringify(counted)).toBe(JSON.stringify(inMemory));
    expect(Object.keys(counted.tools_missing)).toEqual(['wrench', 'adjustable_spanner', 'pliers']);
    expect(counted).toMatchObject({ images: 25, skipped: 1, failed: 4 });

    for (const [offset, limit] of [[0, 10], [10, 10], [20, 10], [5, 1], [21, 5], [100, 10]] as const) {
      const page = await repo.listItems(job.id, { finishedOnly: true, offset, limit });
      expect(page.map((i) => i.id)).toEqual(finished.slice(offset, offset + limit).map((i) => i.id));
    }
    expect((await repo.listItems(job.id, { finishedOnly: true })).map((i) => i.entryIndex)).toEqual(finished.map((i) => i.entryIndex));
  });

  it('counts an empty summary for a job with nothing finished', async () => {
    const { job } = await newJob(3);
    expect(await repo.resultTotals(job.id)).toEqual({ processed: 0, failed: 0, kitsComplete: 0, toolsMissing: {} });
    expect(await repo.finishedSince(job.id, null)).toEqual({ processed: 0, items: [] });
    expect(await repo.finishedSince('00000000-0000-0000-0000-000000000000', null)).toBeNull();
  });

  it('streams every item once, reading only what finished lately, and finds an item that committed late', async () => {
    const { job, items } = await newJob(6);
    const calls = { finishedSince: 0, finishedItemIds: 0, itemsByIds: 0 };
    const counting: JobsRepository = {
      ...repo,
      finishedSince: (...args) => (calls.finishedSince++, repo.finishedSince(...args)),
      finishedItemIds: (...args) => (calls.finishedItemIds++, repo.finishedItemIds(...args)),
      itemsByIds: (...args) => (calls.itemsByIds++, repo.itemsByIds(...args)),
    };
    const service = createJobService({
      jobs: counting,
      queue: {} as never,
      media: {} as never,
      recognition: {} as never,
      zipLimits: {} as never,
      clock: { now: () => new Date() },
      logger: silentLogger as never,
    });
    const controller = new AbortController();
    const events: JobEvent[] = [];
    const waitForItems = async (n: number) => {
      for (let i = 0; i < 400 && events.filter((e) => e.event === 'item').length < n; i++) await new Promise((r) => setTimeout(r, 10));
      expect(events.filter((e) => e.event === 'item')).toHaveLength(n);
    };
    const watching = (async () => {
      for await (const event of service.watch({ id: userId, role: 'admin' }, job.id, { signal: controller.signal, intervalMs: 10 })) events.push(event);
    })();

    const now = Date.now();
    const finish = (i: number, at: number) => repo.finishItem(job.id, items[i]!.id, { state: 'done', result: prediction('success', []) }, new Date(at));
    try {
      await finish(0, now);
      await finish(1, now + 1);
      await waitForItems(2);
      expect(calls.finishedItemIds).toBe(0);
      // Finished (by its clock) a minute before the others, recorded only now: outside the
      // window the stream reads, found by the count.
      await finish(2, now - 60_000);
      await waitForItems(3);
      expect(calls.finishedItemIds).toBe(1);
      await finish(3, now + 2);
      await waitForItems(4);
      await finish(4, now + 3);
      await finish(5, now + 4);
      await watching;
    } finally {
      controller.abort();
      await watching;
    }

    const sentItems = events.filter((e) => e.event === 'item').map((e) => (e as Extract<JobEvent, { event: 'item' }>).data.entry_name);
    expect(sentItems).toEqual(items.map((i) => i.entryName));
    expect(calls.finishedItemIds).toBe(1);
    const done = events.at(-1)!;
    expect(done.event).toBe('done');
    const after = (await repo.findById(job.id))!;
    expect(done.data).toEqual({ state: 'completed', summary: summaryOfItems(after, await repo.listItems(job.id)), error: null });
  });
});

/**
 * Retention deletes rows a batch at a time, and a row only after its images: an image that
 * cannot be removed leaves its row (and the rows after it) for the next run, never a file
 * without its row.
 */
import { describe, expect, it } from 'vitest';
import type { Job, Prediction } from '../../src/db/schema/index.js';
import type { MediaStore } from '../../src/media/media-store.js';
import { createRetentionService } from '../../src/services/retention-service.js';
import { silentLogger } from '../helpers/databases.js';

const preview = (id: string, keys: Array<string | null>) => ({ id, annotatedImageKey: keys[0] ?? null, originalImageKey: keys[1] ?? null }) as Prediction;

function setup(options: { rows: Prediction[]; jobs?: Job[]; sourceKeys?: Array<{ jobId: string; key: string }>; failOn?: string }) {
  const log: string[] = [];
  let rows = options.rows;
  let jobs = options.jobs ?? [];
  const media = {
    async delete(key: string) {
      if (key === options.failOn) throw new Error('EIO');
      log.push(`file ${key}`);
    },
  } as unknown as MediaStore;
  const retention = createRetentionService({
    predictions: {
      listOlderThan: async () => rows,
      deleteMany: async (ids) => {
        log.push(`rows ${ids.join(',')}`);
        rows = rows.filter((r) => !ids.includes(r.id));
      },
    },
    jobs: {
      listFinishedBefore: async () => jobs,
      sourceKeysOfJobs: async (ids) => (options.sourceKeys ?? []).filter((k) => ids.includes(k.jobId)),
      deleteMany: async (ids) => {
        log.push(`jobs ${ids.join(',')}`);
        jobs = jobs.filter((j) => !ids.includes(j.id));
      },
    },
    media,
    clock: { now: () => new Date() },
    logger: silentLogger as never,
    retentionHours: 72,
  });
  return { retention, log };
}

describe('retention service', () => {
  it('deletes the rows of a batch in one statement, after all their images', async () => {
    const { retention, log } = setup({
      rows: [preview('a', ['previews/a.jpg', null]), preview('b', ['previews/b.jpg', 'jobs/b.jpg']), preview('c', ['operations/c.jpg', null])],
      jobs: [{ id: 'j1' } as Job, { id: 'j2' } as Job],
      sourceKeys: [{ jobId: 'j2', key: 'jobs/j2_0.jpg' }],
    });
    expect(await retention.run()).toEqual({ previews: 3, images: 3, jobs: 2 });
    expect(log).toEqual(['file previews/a.jpg', 'file previews/b.jpg', 'file jobs/b.jpg', 'rows a,b,c', 'file jobs/j2_0.jpg', 'jobs j1,j2']);
  });

  it('an image that cannot be deleted: the rows before it go, it and the rest stay, and the error is thrown', async () => {
    const { retention, log } = setup({
      rows: [preview('a', ['previews/a.jpg', null]), preview('b', ['previews/b.jpg', 'previews/b-photo.jpg']), preview('c', ['previews/c.jpg', null])],
      failOn: 'previews/b-photo.jpg',
    });
    await expect(retention.run()).rejects.toThrow('EIO');
    expect(log).toEqual(['file previews/a.jpg', 'file previews/b.jpg', 'rows a']);
  });

  it('a job input that cannot be deleted is logged and its job goes, as before', async () => {
    const { retention, log } = setup({ rows: [], jobs: [{ id: 'j1' } as Job], sourceKeys: [{ jobId: 'j1', key: 'jobs/bad.jpg' }], failOn: 'jobs/bad.jpg' });
    expect(await retention.run()).toEqual({ previews: 0, images: 0, jobs: 1 });
    expect(log).toEqual(['jobs j1']);
  });
});

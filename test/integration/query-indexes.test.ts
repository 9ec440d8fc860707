/**
 * The indexes and constraints of migration 0002: they exist, the planner uses the indexes
 * for the open-review, image-owner and history queries on a few thousand rows (no planner
 * settings changed), and the constraints refuse what the code never writes.
 * On PGlite and on PostgreSQL.
 */
import { and, asc, desc, eq, inArray, isNull, or, sql, type SQL, type SQLWrapper } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../../src/db/client.js';
import { classThresholds, jobItems, jobs, operations, predictions, reviewAudit, users } from '../../src/db/schema/index.js';
import { BACKENDS, openSeededDatabase } from '../helpers/databases.js';

const OPERATIONS = 5000;
const PREDICTIONS = 3000;
const ENGINEERS = 50;

async function rows<T>(database: Database, query: SQL): Promise<T[]> {
  return ((await database.db.execute(query)) as unknown as { rows: T[] }).rows;
}

/** The plan's text (EXPLAIN, not ANALYZE: the plan chosen is what matters). */
async function plan(database: Database, query: SQLWrapper): Promise<string> {
  const lines = await rows<{ 'QUERY PLAN': string }>(database, sql`explain ${query}`);
  return lines.map((l) => l['QUERY PLAN']).join('\n');
}

describe.each(BACKENDS)('query indexes and constraints on %s', (backend) => {
  let database: Database;
  let dispose: () => Promise<void>;
  let userId: number;
  let toolkitId: number;

  beforeAll(async () => {
    ({ database, dispose, toolkitId } = await openSeededDatabase(backend));
    const engineers = await database.db
      .insert(users)
      .values(Array.from({ length: ENGINEERS }, (_, i) => ({ employeeNumber: `e-${i}`, fullName: `Engineer ${i}`, role: 'engineer' as const, passwordHash: 'x' })))
      .returning({ id: users.id });
    userId = engineers[0]!.id;
    // Operations of 50 engineers, mostly successes, 1 in 100 an open review, 1 in 100 a resolved one;
    // keys shaped like newMediaKey's.
    await database.db.execute(sql`
      insert into operations (user_id, acted_by_id, toolkit_id, operation_type, timestamp, status, result_json, model_sha256,
                              original_image_key, annotated_image_key, resolved_at)
      select ${userId} + i % ${ENGINEERS}, ${userId}, ${toolkitId}, 'checkin', now() - make_interval(mins => i),
             (case when i % 100 in (0, 1) then 'discrepancy' else 'success' end)::operation_status,
             '{}'::jsonb, 'test',
             'operations/2026/01/' || md5('o' || i) || '_original.jpg', 'operations/2026/01/' || md5('a' || i) || '_annotated.jpg',
             case when i % 100 = 1 then now() end
      from generate_series(1, ${OPERATIONS}) as i`);
    await database.db.execute(sql`
      insert into predictions (user_id, toolkit_id, original_image_key, annotated_image_key, result_json)
      select ${userId}, ${toolkitId}, case when i % 2 = 0 then 'jobs/2026/01/' || md5('j' || i) || '_photo.jpg' end,
             'previews/2026/01/' || md5('p' || i) || '_annotated.jpg', '{}'::jsonb
      from generate_series(1, ${PREDICTIONS}) as i`);
    await database.db.execute(sql`analyze operations`);
    await database.db.execute(sql`analyze predictions`);
  });
  afterAll(() => dispose?.());

  it('creates the indexes and constraints', async () => {
    const indexes = await rows<{ tablename: string; indexname: string; indexdef: string }>(
      database,
      sql`select tablename, indexname, indexdef from pg_indexes where schemaname = 'public'`,
    );
    const names = indexes.map((i) => i.indexname);
    expect(names).toEqual(
      expect.arrayContaining([
        'operations_time_id_idx',
        'operations_open_review_idx',
        'operations_original_image_idx',
        'operations_annotated_image_idx',
        'predictions_original_image_idx',
        'predictions_annotated_image_idx',
        'job_items_prediction_idx',
      ]),
    );
    // Replaced: the (timestamp DESC, id DESC) index and the unique constraint serve their queries.
    expect(names).not.toContain('operations_time_idx');
    expect(names).not.toContain('review_audit_operation_idx');
    const def = (name: string) => indexes.find((i) => i.indexname === name)!.indexdef;
    expect(def('operations_time_id_idx')).toMatch(/\("timestamp" DESC, id DESC\)/);
    expect(def('operations_user_time_idx')).toMatch(/\(user_id, "timestamp" DESC, id DESC\)/);
    expect(def('operations_toolkit_time_idx')).toMatch(/\(toolkit_id, "timestamp" DESC, id DESC\)/);
    expect(def('operations_open_review_idx')).toMatch(/\("timestamp", id\) WHERE \(\(resolved_at IS NULL\) AND \(status = ANY/);

    const constraints = await rows<{ conname: string; contype: string; def: string }>(
      database,
      sql`select conname, contype, pg_get_constraintdef(oid) as def from pg_constraint
          where conname in ('review_audit_operation_uq', 'job_items_job_index_unique', 'class_thresholds_threshold_range')
          order by conname`,
    );
    expect(constraints.map(({ conname, contype }) => ({ conname, contype }))).toEqual([
      { conname: 'class_thresholds_threshold_range', contype: 'c' },
      { conname: 'job_items_job_index_unique', contype: 'u' },
      { conname: 'review_audit_operation_uq', contype: 'u' },
    ]);
    expect(constraints[1]!.def).toBe('UNIQUE (job_id, entry_index)');
    expect(constraints[2]!.def).toBe('UNIQUE (operation_id)');
  });

  it('open reviews (the query of openReviews) use the partial index', async () => {
    const query = database.db
      .select()
      .from(operations)
      .where(and(inArray(operations.status, ['manual_check', 'discrepancy']), isNull(operations.resolvedAt)))
      .orderBy(asc(operations.timestamp), asc(operations.id))
      .limit(50);
    expect(await plan(database, query)).toMatch(/Index Scan using operations_open_review_idx/);
    expect(await query).toHaveLength(50);
  });

  it('image owner checks (ownerOfImage, findByImageKey) use the key indexes', async () => {
    const [op] = await database.db.select().from(operations).where(eq(operations.id, 1234));
    const key = op!.annotatedImageKey;
    const owner = database.db
      .select({ userId: operations.userId })
      .from(operations)
      .where(or(eq(operations.originalImageKey, key), eq(operations.annotatedImageKey, key)))
      .limit(1);
    const ownerPlan = await plan(database, owner);
    expect(ownerPlan).toMatch(/operations_original_image_idx/);
    expect(ownerPlan).toMatch(/operations_annotated_image_idx/);
    expect(ownerPlan).not.toMatch(/Seq Scan/);
    expect(await owner).toEqual([{ userId: op!.userId }]);

    const preview = database.db
      .select({ id: predictions.id })
      .from(predictions)
      .where(or(eq(predictions.annotatedImageKey, key), eq(predictions.originalImageKey, key)))
      .limit(1);
    const previewPlan = await plan(database, preview);
    expect(previewPlan).toMatch(/predictions_annotated_image_idx/);
    expect(previewPlan).toMatch(/predictions_original_image_idx/);
    expect(previewPlan).not.toMatch(/Seq Scan/);
  });

  it('history pages (newest first, all or one engineer\'s) read an index in order, without sorting', async () => {
    const newestFirst = [desc(operations.timestamp), desc(operations.id)] as const;
    const all = await plan(database, database.db.select().from(operations).orderBy(...newestFirst).offset(20).limit(20));
    expect(all).toMatch(/Index Scan using operations_time_id_idx/);
    expect(all).not.toMatch(/Sort/);
    const own = await plan(database, database.db.select().from(operations).where(eq(operations.userId, userId)).orderBy(...newestFirst).limit(20));
    expect(own).toMatch(/Index Scan using operations_user_time_idx/);
    expect(own).not.toMatch(/Sort/);
  });

  it('refuses a second audit for one operation', async () => {
    const [op] = await database.db.select({ id: operations.id }).from(operations).limit(1);
    const audit = { operationId: op!.id, reviewerId: userId, decision: 'confirmed' as const, note: null, before: {}, after: {} };
    await database.db.insert(reviewAudit).values(audit);
    await expect(database.db.insert(reviewAudit).values(audit)).rejects.toThrow();
  });

  it('refuses a class threshold outside 0…1 and accepts both ends', async () => {
    await database.db.insert(classThresholds).values({ classKey: 'pliers', threshold: 1 });
    await database.db.insert(classThresholds).values({ classKey: 'brace', threshold: 0 });
    await expect(database.db.insert(classThresholds).values({ classKey: 'side_cutters', threshold: 1.5 })).rejects.toThrow();
    await expect(database.db.update(classThresholds).set({ threshold: -0.1 }).where(eq(classThresholds.classKey, 'pliers'))).rejects.toThrow();
  });

  it('refuses two items with the same index in one job; another job may reuse it', async () => {
    const newJob = async () =>
      (await database.db.insert(jobs).values({ userId, toolkitId, source: 'zip', archiveSha256: 'a'.repeat(64), total: 2 }).returning())[0]!.id;
    const item = (jobId: string, entryName: string) => ({ jobId, entryIndex: 0, entryName, imageSha256: 'b'.repeat(64) });
    const first = await newJob();
    await database.db.insert(jobItems).values(item(first, 'a.jpg'));
    await expect(database.db.insert(jobItems).values(item(first, 'b.jpg'))).rejects.toThrow();
    await database.db.insert(jobItems).values(item(await newJob(), 'a.jpg'));
  });
});

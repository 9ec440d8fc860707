import { Type } from 'typebox';
import { seedBatchItemProperties } from './recognition.js';

export const ItemErrorSchema = Type.Object(
  {
    status: Type.Integer({ description: 'The HTTP status this image alone would have got (415, 422, 500…)' }),
    code: Type.String(),
    detail: Type.String(),
  },
  { $id: 'ItemError', description: 'Why one image of a batch or job has no result' },
);

export const SkippedEntrySchema = Type.Object(
  {
    entry_name: Type.String({ description: 'The name as the archive (or upload) spells it; a label, never a path' }),
    reason: Type.String({
      description:
        'directory, symlink, absolute_path, path_traversal, invalid_name, duplicate_name, nested_archive, encrypted, ' +
        'unsupported_compression, too_large, compression_ratio, total_size_limit, corrupt_entry, not_an_image',
    }),
    detail: Type.String(),
  },
  { $id: 'SkippedEntry' },
);

export const BatchSummarySchema = Type.Object(
  {
    images: Type.Integer({ description: 'Images recognised or attempted (skipped entries excluded)' }),
    processed: Type.Integer({ description: 'Images with a result' }),
    failed: Type.Integer({ description: 'Images without a result (each has its problem)' }),
    skipped: Type.Integer({ description: 'Entries left out; see `skipped`' }),
    kits_complete: Type.Integer({ description: 'Results whose kit comparison is `success`' }),
    tools_missing: Type.Record(Type.String(), Type.Integer(), { description: 'Missing tools over all results, by tool class' }),
  },
  { $id: 'BatchSummary' },
);

export const BatchResultSchema = Type.Object(
  {
    successful_images: Type.Integer({ description: "Images with a result (seed 000's `BatchPredictResponse`; = summary.processed)" }),
    failed_images: Type.Integer({ description: 'Images without one (= summary.failed; skipped entries are not counted)' }),
    results: Type.Array(
      Type.Object({
        index: Type.Integer({ description: 'Position of the file in the request or the entry in the archive' }),
        filename: Type.String(),
        prediction: Type.Union([Type.Ref('Prediction'), Type.Null()]),
        error: Type.Union([Type.Ref('ItemError'), Type.Null()]),
        ...seedBatchItemProperties,
      }),
    ),
    skipped: Type.Array(Type.Ref('SkippedEntry')),
    summary: Type.Ref('BatchSummary'),
  },
  { $id: 'BatchResult', description: "toolcontrol's batch result, with the fields of seed 000's `BatchPredictResponse` and `BatchImageResult`" },
);

const JobStateSchema = Type.Union(
  ['queued', 'running', 'completed', 'failed', 'cancelled'].map((s) => Type.Literal(s)),
  { description: 'completed: every image has a result or a problem; failed: every image failed, or the job could not run' },
);

export const JobItemSchema = Type.Object(
  {
    index: Type.Integer(),
    entry_name: Type.String(),
    filename: Type.String({ description: 'The same as entry_name, named as in /predict/batch results' }),
    state: Type.Union([Type.Literal('pending'), Type.Literal('done'), Type.Literal('failed')]),
    prediction: Type.Union([Type.Ref('Prediction'), Type.Null()]),
    error: Type.Union([Type.Ref('ItemError'), Type.Null()]),
  },
  { $id: 'JobItem' },
);

export const JobSchema = Type.Object(
  {
    job_id: Type.String({ format: 'uuid' }),
    state: JobStateSchema,
    user_id: Type.Integer(),
    toolkit_id: Type.Integer(),
    confidence: Type.Union([Type.Number(), Type.Null()]),
    source: Type.Union([Type.Literal('zip'), Type.Literal('images')]),
    archive_name: Type.Union([Type.String(), Type.Null()]),
    archive_sha256: Type.String(),
    total: Type.Integer({ description: 'Images to recognise' }),
    processed: Type.Integer({ description: 'Images finished (with a result or a problem)' }),
    failed: Type.Integer(),
    error: Type.Union([Type.String(), Type.Null()]),
    created_at: Type.String({ format: 'date-time' }),
    started_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
    finished_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
    summary: Type.Ref('BatchSummary'),
    results: Type.Array(Type.Ref('JobItem'), { description: 'Finished images so far, in archive order: the page `skip`/`limit` asked for' }),
    skipped: Type.Array(Type.Ref('SkippedEntry')),
  },
  { $id: 'Job' },
);

export const JobAcceptedSchema = Type.Object({
  job_id: Type.String({ format: 'uuid' }),
  state: JobStateSchema,
  total: Type.Integer(),
  skipped: Type.Array(Type.Ref('SkippedEntry')),
  deduplicated: Type.Boolean({ description: 'The same upload with the same settings is already queued or running: that job' }),
  status_url: Type.String(),
  events_url: Type.String(),
});

export const JobParamsSchema = Type.Object({ id: Type.String({ description: 'Job id (uuid)' }) });

export const jobSchemas = [ItemErrorSchema, SkippedEntrySchema, BatchSummarySchema, BatchResultSchema, JobItemSchema, JobSchema];

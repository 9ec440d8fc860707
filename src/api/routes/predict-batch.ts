/**
 * Seed 000's /predict/batch (several photos) and /predict/zip (a ZIP archive):
 * synchronous previews for small inputs. More than SYNC_BATCH_LIMIT images → 413
 * `batch.too_large`, pointing to POST /api/v1/jobs.
 */
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { Deps } from '../../deps.js';
import { BatchTooLargeError } from '../../services/batch-service.js';
import { BadRequestError } from '../../shared/errors.js';
import { multipartSchema } from '../plugins/multipart.js';
import { previewAccess, previewUserId } from '../plugins/preview-access.js';
import { readSpooledUpload } from '../plugins/spooled-upload.js';
import { problems } from '../schemas/common.js';
import { PredictFieldsSchema } from '../schemas/recognition.js';

export async function predictBatchRoutes(app: FastifyInstance, { deps }: { deps: Deps }): Promise<void> {
  const { config } = deps;
  const spoolDir = path.join(config.dataDir, 'tmp');
  const limit = config.jobs.syncBatchLimit;
  const access = previewAccess(config);
  const response = { 200: Type.Ref('BatchResult'), ...problems(400, 401, 404, 413, 415, 422, ...(access.anonymous ? [429] : []), 503) };

  const batchUpload = multipartSchema(PredictFieldsSchema, {
    images: { description: `Photos (at most ${limit}; more → use /api/v1/jobs)`, multiple: true },
  });
  app.post(
    '/predict/batch',
    {
      preHandler: access.preHandler,
      validatorCompiler: batchUpload.validatorCompiler,
      schema: {
        ...batchUpload.schema,
        tags: ['recognition'],
        summary: 'Recognise several photos and compare each with a kit (synchronous, no operation recorded)',
        description:
          'Per-image results (a Prediction, or the problem of that image) and a summary. One bad image never fails the batch. ' +
          "Also the fields of seed 000's own backend (BatchPredictResponse: successful_images, failed_images; per image " +
          'BatchImageResult: success, found_tools, hand_check, processed_image_url, ml_predictions, inference_time_ms, error_message). ' +
          `More than ${limit} images → 413 batch.too_large: submit them to POST /api/v1/jobs instead.`,
        security: access.security,
        response,
      },
    },
    async (request) => {
      const upload = await readSpooledUpload(request, PredictFieldsSchema, {
        spoolDir,
        maxBytes: { images: config.maxUploadBytes },
        maxFiles: limit,
        maxTotalBytes: config.jobs.maxArchiveBytes,
        tooManyFiles: () => new BatchTooLargeError(null, limit),
      });
      try {
        if (upload.files.length === 0) {
          throw new BadRequestError('request.validation_failed', 'Send at least one file in the "images" field', {
            errors: [{ field: 'images', message: 'at least one file is required' }],
          });
        }
        return await deps.services.batch.predict({
          userId: previewUserId(request),
          toolkitId: upload.fields.toolkit_id,
          ...(upload.fields.confidence !== undefined ? { confidence: upload.fields.confidence } : {}),
          source: { kind: 'images', files: upload.files },
        });
      } finally {
        await upload.cleanup();
      }
    },
  );

  const zipUpload = multipartSchema(PredictFieldsSchema, { zip_file: { description: 'ZIP archive of photos' } });
  app.post(
    '/predict/zip',
    {
      preHandler: access.preHandler,
      validatorCompiler: zipUpload.validatorCompiler,
      schema: {
        ...zipUpload.schema,
        tags: ['recognition'],
        summary: 'Recognise the photos of a ZIP archive and compare each with a kit (synchronous, no operation recorded)',
        description:
          "The same answer as /predict/batch, seed 000's fields included. " +
          'Entries that are not images, or unsafe (path traversal, absolute names, symlinks, nested archives, zip bombs), are skipped ' +
          'and listed with the reason. A file that is not a readable ZIP → 400 zip.corrupt, an archive with no photos → 400 batch.no_images (Russian detail, as the original); too many entries → 422 zip.too_many_entries. ' +
          `More than ${limit} images → 413 batch.too_large: submit the archive to POST /api/v1/jobs instead.`,
        security: access.security,
        response,
      },
    },
    async (request) => {
      const upload = await readSpooledUpload(request, PredictFieldsSchema, {
        spoolDir,
        maxBytes: { zip_file: config.jobs.maxArchiveBytes },
        maxFiles: 1,
        maxTotalBytes: config.jobs.maxArchiveBytes,
        spoolFields: ['zip_file'],
      });
      try {
        const archive = upload.files[0];
        if (!archive) {
          throw new BadRequestError('request.validation_failed', 'Send the archive in the "zip_file" field', {
            errors: [{ field: 'zip_file', message: 'a ZIP file is required' }],
          });
        }
        return await deps.services.batch.predict({
          userId: previewUserId(request),
          toolkitId: upload.fields.toolkit_id,
          ...(upload.fields.confidence !== undefined ? { confidence: upload.fields.confidence } : {}),
          source: { kind: 'zip', filename: archive.filename, sha256: archive.sha256, size: archive.size, path: archive.path },
        });
      } finally {
        await upload.cleanup();
      }
    },
  );
}

/**
 * Seed 000's preview routes: recognition + kit comparison with no operation
 * recorded. Batches and archives arrive later as jobs; see routes/jobs.
 */
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { Deps } from '../../deps.js';
import { BadRequestError } from '../../shared/errors.js';
import { multipartSchema, readUpload } from '../plugins/multipart.js';
import { previewAccess, previewUserId } from '../plugins/preview-access.js';
import { problems } from '../schemas/common.js';
import { PredictFieldsSchema } from '../schemas/recognition.js';

export async function predictRoutes(app: FastifyInstance, { deps }: { deps: Deps }): Promise<void> {
  const access = previewAccess(deps.config);
  const upload = multipartSchema(PredictFieldsSchema, { image: { description: 'Photo of the open kit (JPEG, PNG, WebP, TIFF…)' } });
  app.post(
    '/predict/',
    {
      preHandler: access.preHandler,
      validatorCompiler: upload.validatorCompiler,
      schema: {
        ...upload.schema,
        tags: ['recognition'],
        summary: 'Recognise the tools in one photo and compare them with a kit (no operation recorded)',
        description:
          "A Prediction, plus the fields seed 000's own backend answered with (`PredictResponse`: found_tools, hand_check, " +
          'processed_image_url, ml_predictions, inference_time_ms), so its frontend and clients read the answer unchanged.',
        security: access.security,
        response: { 200: Type.Ref('PredictResponse'), ...problems(400, 401, 404, 413, 415, 422, ...(access.anonymous ? [429] : []), 503) },
      },
    },
    async (request) => {
      const { fields, files } = await readUpload(request, PredictFieldsSchema, ['image']);
      const image = files.find((f) => f.field === 'image');
      if (!image || files.length !== 1) {
        throw new BadRequestError('request.validation_failed', 'Send exactly one file in the "image" field', {
          errors: [{ field: 'image', message: 'exactly one file is required' }],
        });
      }
      return deps.services.predictions.predictWithSeedFields({
        userId: previewUserId(request),
        image: image.data,
        toolkitId: fields.toolkit_id,
        ...(fields.confidence !== undefined ? { confidence: fields.confidence } : {}),
      });
    },
  );
}

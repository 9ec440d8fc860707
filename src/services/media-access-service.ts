/**
 * Who may read a stored image: storekeepers and admins read every image; an
 * engineer reads the images of their own operations and previews only. Another
 * engineer's image is 403 `media.forbidden` (the API tests rely on it); a key with
 * no file, or a file no operation or preview claims, is 404 `media.not_found`.
 * Keys hold a random part, so the 403 does not make them guessable.
 */
import type { UserRole } from '../db/schema/index.js';
import type { MediaStore } from '../media/media-store.js';
import type { OperationsRepository } from '../repositories/operations.js';
import type { PredictionsRepository } from '../repositories/predictions.js';
import { ForbiddenError, NotFoundError } from '../shared/errors.js';

export function createMediaAccessService(deps: {
  media: MediaStore;
  operations: OperationsRepository;
  predictions: PredictionsRepository;
  /** Draws a job preview's annotated image on first view (prediction-service). */
  drawDeferred: (key: string) => Promise<boolean>;
}) {
  return {
    /**
     * `viewer` null: the request carried a valid signed URL for this very key (the API
     * signed it for someone who may see it), so no owner check is made.
     */
    async open(viewer: { id: number; role: UserRole } | null, key: string) {
      // Validates the key (traversal, absolute paths…) before anything else.
      let file = await deps.media.get(key);
      if (!file && (await deps.drawDeferred(key))) file = await deps.media.get(key);
      if (!file) throw new NotFoundError('media.not_found', 'No such image');
      if (viewer?.role === 'engineer') {
        try {
          const [operationOwner, preview] = await Promise.all([deps.operations.ownerOfImage(key), deps.predictions.findByImageKey(key)]);
          const owns = operationOwner === viewer.id || preview?.userId === viewer.id;
          if (!owns) {
            if (operationOwner === null && preview === null) throw new NotFoundError('media.not_found', 'No such image');
            throw new ForbiddenError('media.forbidden', 'This image belongs to another engineer');
          }
        } catch (err) {
          // Refused (or the lookup failed): the file is not sent, so its descriptor is closed now.
          file.stream.destroy();
          throw err;
        }
      }
      return file;
    },
  };
}

export type MediaAccessService = ReturnType<typeof createMediaAccessService>;

/**
 * Jobs API: large batches and ZIP archives recognised in the background.
 *   POST   /api/v1/jobs                 → 202 { job_id, … }
 *   GET    /api/v1/jobs/{id}            → state, progress, results so far, skipped entries
 *   GET    /api/v1/jobs/{id}/events     → Server-Sent Events: item, progress, done
 *   GET    /api/v1/jobs/{id}/report.csv → one row per image (and per skipped entry)
 *   GET    /api/v1/jobs/{id}/report.json
 *   DELETE /api/v1/jobs/{id}            → cancel
 * The owner, storekeepers and admins see a job; anyone else gets 404.
 */
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { finished } from 'node:stream/promises';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import type { Deps } from '../../deps.js';
import type { JobItem } from '../../db/schema/index.js';
import { itemView, type JobEvent, type JobView } from '../../services/job-service.js';
import { BadRequestError, PayloadTooLargeError, ServiceUnavailableError } from '../../shared/errors.js';
import { authenticate } from '../plugins/auth.js';
import { multipartSchema } from '../plugins/multipart.js';
import { readSpooledUpload } from '../plugins/spooled-upload.js';
import { problems } from '../schemas/common.js';
import { JobAcceptedSchema, JobParamsSchema } from '../schemas/jobs.js';
import { PredictFieldsSchema } from '../schemas/recognition.js';
import { signMediaUrls, type MediaUrlSigner } from '../../media/signed-urls.js';

const HEARTBEAT_MS = 15_000;
/** Sent with the final `shutdown` event: how soon EventSource clients reconnect. */
const RECONNECT_MS = 1_000;

function viewer(request: FastifyRequest) {
  return { id: request.user.id, role: request.user.role };
}

function sseFrame(event: JobEvent, signer: MediaUrlSigner): string {
  const id = 'id' in event ? `id: ${event.id}\n` : '';
  return `${id}event: ${event.event}\ndata: ${JSON.stringify(signMediaUrls(event.data, signer))}\n\n`;
}

/** A CSV cell: quoted when needed; text that a spreadsheet would run as a formula is defused. */
function csvCell(value: unknown): string {
  if (value === null || value === undefined) return '';
  let text = String(value);
  if (typeof value === 'string' && /^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return /[",\n\r]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

const CSV_COLUMNS = [
  'index',
  'entry_name',
  'state',
  'status',
  'match_percentage',
  'missing',
  'extra',
  'uncertain',
  'detections',
  'image_url',
  'error_code',
  'error_detail',
];

interface StoredPrediction {
  comparison?: {
    status?: string;
    match_percentage?: number;
    missing?: Array<{ class_key: string; count: number }>;
    extra?: Array<{ class_key: string; count: number }>;
    uncertain?: Array<{ class_key: string; count: number }>;
  };
  detections?: unknown[];
  image_url?: string;
}

function toolList(list: Array<{ class_key: string; count: number }> | undefined): string {
  return (list ?? []).map((t) => (t.count > 1 ? `${t.class_key}×${t.count}` : t.class_key)).join('; ');
}

/** `signUrl`: the image URLs signed (the API's report); without it they stay plain. */
export function jobReportCsv(job: JobView, items: JobItem[], signUrl: (url: string) => string = (url) => url): string {
  const rows = [CSV_COLUMNS.join(',')];
  for (const item of items) {
    const p = (item.result ?? {}) as StoredPrediction;
    rows.push(
      [
        item.entryIndex,
        item.entryName,
        item.state,
        p.comparison?.status,
        p.comparison?.match_percentage,
        toolList(p.comparison?.missing),
        toolList(p.comparison?.extra),
        toolList(p.comparison?.uncertain),
        p.detections?.length,
        p.image_url === undefined ? undefined : signUrl(p.image_url),
        item.error?.code,
        item.error?.detail,
      ]
        .map(csvCell)
        .join(','),
    );
  }
  for (const s of job.skipped) {
    rows.push(['', s.entry_name, 'skipped', '', '', '', '', '', '', '', s.reason, s.detail].map(csvCell).join(','));
  }
  return `${rows.join('\r\n')}\r\n`;
}

export async function jobRoutes(app: FastifyInstance, { deps }: { deps: Deps }): Promise<void> {
  const { config } = deps;
  const service = deps.services.jobs;
  const spoolDir = path.join(config.dataDir, 'tmp');
  const security = [{ bearerAuth: [] }];
  const params = JobParamsSchema;

  // Open event streams never end on their own while a job runs: app.close() would wait for
  // them until the force timer. Before the server closes, each one is told and ended.
  const openStreams = new Set<() => Promise<void>>();
  app.addHook('preClose', async () => {
    await Promise.all([...openStreams].map((end) => end()));
  });

  const upload = multipartSchema(PredictFieldsSchema, {
    zip_file: { description: 'ZIP archive of photos (or send `images` instead)', required: false },
    images: { description: 'Photos (or send `zip_file` instead)', multiple: true, required: false },
  });
  app.post(
    '/api/v1/jobs',
    {
      preHandler: authenticate(),
      validatorCompiler: upload.validatorCompiler,
      schema: {
        ...upload.schema,
        tags: ['jobs'],
        summary: 'Submit a ZIP archive or many photos for recognition in the background',
        description:
          'The upload is checked at once (a corrupt archive or one with no photos → 400; unsafe or non-image entries are skipped and listed) and each ' +
          'photo becomes one task. Follow progress with GET /api/v1/jobs/{id} or its /events stream. Submitting the same upload ' +
          'with the same settings while its job is queued or running returns that job (`deduplicated: true`).',
        security,
        response: { 202: JobAcceptedSchema, ...problems(400, 401, 404, 413, 415, 422, 503) },
      },
    },
    async (request, reply) => {
      const spooled = await readSpooledUpload(request, PredictFieldsSchema, {
        spoolDir,
        maxBytes: { zip_file: config.jobs.maxArchiveBytes, images: config.maxUploadBytes },
        maxFiles: config.jobs.zip.maxEntries,
        maxTotalBytes: config.jobs.maxArchiveBytes,
        spoolFields: ['zip_file'],
        tooManyFiles: () => new PayloadTooLargeError(`At most ${config.jobs.zip.maxEntries} photos per job; send a ZIP archive or split the batch`),
      });
      try {
        const archives = spooled.files.filter((f) => f.field === 'zip_file');
        const images = spooled.files.filter((f) => f.field === 'images');
        if (archives.length + images.length === 0 || (archives.length > 0 && images.length > 0) || archives.length > 1) {
          throw new BadRequestError('request.validation_failed', 'Send either one "zip_file" or one or more "images"', {
            errors: [{ field: 'zip_file', message: 'exactly one of zip_file or images[] is required' }],
          });
        }
        const archive = archives[0];
        const { job, deduplicated } = await service.create({
          userId: request.user.id,
          toolkitId: spooled.fields.toolkit_id,
          ...(spooled.fields.confidence !== undefined ? { confidence: spooled.fields.confidence } : {}),
          source: archive
            ? { kind: 'zip', filename: archive.filename, sha256: archive.sha256, size: archive.size, path: archive.path }
            : { kind: 'images', files: images },
        });
        const statusUrl = `/api/v1/jobs/${job.job_id}`;
        reply.code(202).header('location', statusUrl);
        return {
          job_id: job.job_id,
          state: job.state,
          total: job.total,
          skipped: job.skipped,
          deduplicated,
          status_url: statusUrl,
          events_url: `${statusUrl}/events`,
        };
      } finally {
        await spooled.cleanup();
      }
    },
  );

  app.get(
    '/api/v1/jobs/:id',
    {
      preHandler: authenticate(),
      schema: {
        tags: ['jobs'],
        summary: 'A job: state, progress, the results so far and the skipped entries',
        description:
          '`results` holds the finished images in archive order, `limit` of them from `skip` (as the history pages); ' +
          '`processed` says how many there are. The summary always covers all of them; report.json and report.csv give every result at once.',
        security,
        params,
        querystring: Type.Object({
          skip: Type.Integer({ minimum: 0, default: 0 }),
          limit: Type.Integer({ minimum: 1, maximum: 1000, default: 500 }),
        }),
        response: { 200: Type.Ref('Job'), ...problems(400, 401, 404) },
      },
    },
    async (request) => {
      const { skip, limit } = request.query as { skip: number; limit: number };
      return service.get(viewer(request), (request.params as { id: string }).id, { skip, limit });
    },
  );

  app.get(
    '/api/v1/jobs/:id/events',
    {
      preHandler: authenticate({ allowQueryToken: true }),
      schema: {
        tags: ['jobs'],
        summary: 'Follow a job as Server-Sent Events',
        description:
          'text/event-stream. `item` (one per finished image, data: a JobItem; those finished earlier come first), `progress` ' +
          '(data: state, total, processed, failed), and `done` (data: state, summary, error) before the stream ends. When the ' +
          'server shuts down the stream ends with `shutdown` instead: reconnect (EventSource does) to follow the job on. ' +
          'EventSource clients may pass the token as `?access_token=`.',
        security,
        params,
        produces: ['text/event-stream'],
        response: { 200: Type.String({ description: 'An event stream' }), ...problems(401, 404, 503) },
      },
    },
    async (request, reply) => {
      const id = (request.params as { id: string }).id;
      const who = viewer(request);
      // Listening before the first await: a client that leaves while the first event is
      // read must still stop the polling (its 'close' would not come again).
      const controller = new AbortController();
      const abort = () => controller.abort();
      request.raw.once('close', abort);
      reply.raw.once('close', abort);
      if (request.raw.destroyed || reply.raw.destroyed) abort();
      let stream: PassThrough | null = null;
      let pumping: Promise<void> = Promise.resolve();
      let shuttingDown = false;
      const end = async () => {
        shuttingDown = true;
        abort();
        if (!stream) return;
        // EventSource clients reconnect on their own (to this or another API process).
        if (!stream.writableEnded) {
          stream.end(`retry: ${RECONNECT_MS}\nevent: shutdown\ndata: ${JSON.stringify({ detail: 'The server is shutting down; reconnect' })}\n\n`);
        }
        // The watch stops at its next step and the response is flushed; neither may hold the close for long.
        await Promise.race([
          Promise.allSettled([pumping, finished(reply.raw)]),
          new Promise((resolve) => setTimeout(resolve, 1_000).unref()),
        ]);
      };
      openStreams.add(end);
      const forget = () => openStreams.delete(end);
      reply.raw.once('close', forget);
      try {
        const events = service.watch(who, id, { signal: controller.signal });
        // The first event proves the job exists and is visible (404 otherwise) before the stream starts.
        const first = await events.next();
        if (controller.signal.aborted) {
          // Nobody is listening any more (or the server is closing): end the watch without starting a stream.
          forget();
          await events.return(undefined);
          if (shuttingDown) throw new ServiceUnavailableError('service.shutting_down', 'The server is shutting down; reconnect', 1);
          return reply.send();
        }
        const out = new PassThrough();
        stream = out;
        const write = (frame: string) => {
          if (!out.writableEnded) out.write(frame);
        };
        const heartbeat = setInterval(() => write(': keep-alive\n\n'), HEARTBEAT_MS);
        out.once('close', abort);
        pumping = (async () => {
          try {
            if (!first.done) write(sseFrame(first.value, deps.mediaUrls));
            for await (const event of events) {
              if (controller.signal.aborted) break;
              write(sseFrame(event, deps.mediaUrls));
            }
          } catch (err) {
            request.log.warn({ err: (err as Error).message }, 'job event stream ended with an error');
            write(`event: error\ndata: ${JSON.stringify({ detail: 'The event stream failed; reconnect' })}\n\n`);
          } finally {
            clearInterval(heartbeat);
            forget();
            if (!out.writableEnded) out.end();
          }
        })();
        return reply
          .header('content-type', 'text/event-stream; charset=utf-8')
          .header('cache-control', 'no-cache')
          .header('x-accel-buffering', 'no')
          .send(out);
      } catch (err) {
        forget();
        throw err;
      }
    },
  );

  app.get(
    '/api/v1/jobs/:id/report.csv',
    {
      preHandler: authenticate(),
      schema: {
        tags: ['jobs'],
        summary: 'A job report as CSV: one row per image, then one per skipped entry',
        security,
        params,
        produces: ['text/csv'],
        response: { 200: Type.String({ description: 'CSV (RFC 4180)' }), ...problems(401, 404) },
      },
    },
    async (request, reply) => {
      const id = (request.params as { id: string }).id;
      const { job, items } = await service.report(viewer(request), id);
      return reply
        .header('content-type', 'text/csv; charset=utf-8')
        .header('content-disposition', `attachment; filename="job-${job.job_id}.csv"`)
        .send(jobReportCsv(job, items, (url) => deps.mediaUrls.signUrl(url)));
    },
  );

  app.get(
    '/api/v1/jobs/:id/report.json',
    {
      preHandler: authenticate(),
      schema: {
        tags: ['jobs'],
        summary: 'A job report as JSON: the job with every image (pending ones too)',
        security,
        params,
        response: { 200: Type.Ref('Job'), ...problems(401, 404) },
      },
    },
    async (request, reply) => {
      const id = (request.params as { id: string }).id;
      const { job, items } = await service.report(viewer(request), id);
      reply.header('content-disposition', `attachment; filename="job-${job.job_id}.json"`);
      return { ...job, results: items.map(itemView) };
    },
  );

  app.delete(
    '/api/v1/jobs/:id',
    {
      preHandler: authenticate(),
      schema: {
        tags: ['jobs'],
        summary: 'Cancel a job: images not yet started are not recognised; results so far are kept',
        security,
        params,
        response: { 200: Type.Ref('Job'), ...problems(401, 404, 409) },
      },
    },
    async (request) => service.cancel(viewer(request), (request.params as { id: string }).id),
  );
}

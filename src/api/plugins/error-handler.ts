/**
 * One place where errors become application/problem+json (RFC 9457). `detail` is
 * always a string so FastAPI-style clients that read `detail` keep working.
 * 5xx bodies say nothing internal; the log has everything, keyed by request id.
 *
 * Statuses follow FastAPI, which the original backend was and its clients branch on:
 * a request that was read but whose values are wrong (a field missing, of the wrong type,
 * out of range) is 422; one that cannot be read at all (broken JSON, an empty body where
 * JSON is required, a multipart body that cannot be parsed) is 400.
 */
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AppError, ServiceUnavailableError, type FieldError } from '../../shared/errors.js';
import { redactUrl } from '../../shared/logger.js';

export const PROBLEM_CONTENT_TYPE = 'application/problem+json; charset=utf-8';

const TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  406: 'Not Acceptable',
  409: 'Conflict',
  413: 'Payload Too Large',
  415: 'Unsupported Media Type',
  422: 'Unprocessable Content',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
};

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: string;
  instance?: string;
  request_id?: string;
  errors?: FieldError[];
  [extra: string]: unknown;
}

export function problemType(code: string): string {
  return `urn:toolcontrol:problem:${code}`;
}

export function sendProblem(
  reply: FastifyReply,
  status: number,
  code: string,
  detail: string,
  extra: Record<string, unknown> = {},
): FastifyReply {
  const request = reply.request;
  const body: Problem = {
    type: problemType(code),
    title: TITLES[status] ?? 'Error',
    status,
    detail,
    code,
    // Never echo `?access_token=` (media and event-stream URLs) back, as the logs do not either.
    instance: redactUrl(request.url),
    request_id: String(request.id),
    ...extra,
  };
  return reply.code(status).header('content-type', PROBLEM_CONTENT_TYPE).send(body);
}

/** The status of a request whose values fail validation (FastAPI's). */
export const VALIDATION_STATUS = 422;

/**
 * Codes that mean "read, but the values are wrong": always 422, also where a route or
 * service still throws them as a 400 BadRequestError (a required file missing, base64
 * that does not decode, a file in a field the route does not take).
 */
const VALIDATION_CODES = new Set(['request.validation_failed', 'request.invalid_base64', 'request.unexpected_file']);

/** Fastify's own error codes with the status and stable code we expose. */
const FASTIFY_ERRORS: Record<string, { status: number; code: string; detail?: string }> = {
  FST_ERR_CTP_BODY_TOO_LARGE: { status: 413, code: 'request.too_large', detail: 'The request body is larger than allowed' },
  FST_REQ_FILE_TOO_LARGE: { status: 413, code: 'request.too_large', detail: 'An uploaded file is larger than allowed' },
  FST_FILES_LIMIT: { status: 413, code: 'request.too_many_files', detail: 'Too many files in the request' },
  FST_PARTS_LIMIT: { status: 413, code: 'request.too_many_parts', detail: 'Too many parts in the request' },
  FST_FIELDS_LIMIT: { status: 413, code: 'request.too_many_fields', detail: 'Too many fields in the request' },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: { status: 415, code: 'request.unsupported_content_type' },
  FST_INVALID_MULTIPART_CONTENT_TYPE: { status: 415, code: 'request.not_multipart', detail: 'The request is not multipart/form-data' },
  FST_ERR_CTP_EMPTY_JSON_BODY: { status: 400, code: 'request.empty_body' },
  FST_ERR_CTP_INVALID_JSON_BODY: { status: 400, code: 'request.invalid_json' },
};

function validationErrors(error: FastifyError): FieldError[] {
  const context = error.validationContext ?? 'body';
  return (error.validation ?? []).map((v) => {
    const missing = (v.params as { missingProperty?: string } | undefined)?.missingProperty;
    const path = [context, ...v.instancePath.split('/').filter(Boolean), ...(missing ? [missing] : [])].join('.');
    return { field: path, message: v.message ?? 'is invalid' };
  });
}

/** May answer a request no route matched (the web app's deep links); false leaves it to the 404 problem. */
export type NotFoundFallback = (request: FastifyRequest, reply: FastifyReply) => boolean;

export function registerErrorHandler(app: FastifyInstance, options: { notFoundFallback?: NotFoundFallback } = {}): void {
  app.setErrorHandler((error: FastifyError | AppError | Error, request: FastifyRequest, reply: FastifyReply) => {
    if (error instanceof AppError) {
      // A 503 with Retry-After (queue full, model or Redis away, shutting down) is the service
      // shedding load or waiting for a dependency as designed: a warning, no stack trace.
      if (error instanceof ServiceUnavailableError) {
        request.log.warn({ code: error.code, status: error.status, retryAfter: error.retryAfterSeconds }, error.message);
        reply.header('retry-after', String(error.retryAfterSeconds));
      } else if (error.status >= 500) request.log.error({ err: error }, error.message);
      else request.log.info({ code: error.code, status: error.status }, error.message);
      const status = error.status === 400 && VALIDATION_CODES.has(error.code) ? VALIDATION_STATUS : error.status;
      return sendProblem(reply, status, error.code, error.message, error.extra);
    }
    const fastifyError = error as FastifyError;
    if (fastifyError.validation) {
      const errors = validationErrors(fastifyError);
      const detail = errors.map((e) => `${e.field}: ${e.message}`).join('; ');
      return sendProblem(reply, VALIDATION_STATUS, 'request.validation_failed', detail || 'The request is invalid', { errors });
    }
    const known = fastifyError.code ? FASTIFY_ERRORS[fastifyError.code] : undefined;
    if (known) {
      return sendProblem(reply, known.status, known.code, known.detail ?? fastifyError.message);
    }
    const status = fastifyError.statusCode ?? 500;
    if (status === 429) {
      return sendProblem(reply, 429, 'request.rate_limited', fastifyError.message);
    }
    if (status >= 400 && status < 500) {
      return sendProblem(reply, status, 'request.invalid', fastifyError.message);
    }
    request.log.error({ err: error }, 'unhandled error');
    return sendProblem(
      reply,
      500,
      'internal',
      `An unexpected error occurred. Quote request id ${String(request.id)} when reporting it.`,
    );
  });

  const fallback = options.notFoundFallback;
  app.setNotFoundHandler((request, reply) => {
    if (fallback?.(request, reply)) return reply;
    return sendProblem(reply, 404, 'route.not_found', `No route ${request.method} ${request.url.split('?')[0]}`);
  });
}

/**
 * Typed application errors. Services throw these; one error handler turns them
 * into application/problem+json. `code` is stable and machine-readable.
 */
export interface FieldError {
  field: string;
  message: string;
}

export class AppError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly extra: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'AppError';
  }
}

export class NotFoundError extends AppError {
  constructor(code: string, message: string) {
    super(404, code, message);
  }
}

export class ConflictError extends AppError {
  constructor(code: string, message: string, extra: Record<string, unknown> = {}) {
    super(409, code, message, extra);
  }
}

export class BadRequestError extends AppError {
  constructor(code: string, message: string, extra: Record<string, unknown> = {}) {
    super(400, code, message, extra);
  }
}

export class UnauthorizedError extends AppError {
  constructor(code = 'auth.unauthorized', message = 'Authentication required') {
    super(401, code, message);
  }
}

export class ForbiddenError extends AppError {
  constructor(code = 'auth.forbidden', message = 'You do not have access to this resource') {
    super(403, code, message);
  }
}

/** 415: the upload is not an image format we accept. */
export class UnsupportedMediaError extends AppError {
  constructor(message: string) {
    super(415, 'image.unsupported_type', message);
  }
}

/** 422: the upload looks like an image but cannot be processed (corrupt, too many pixels). */
export class UnprocessableImageError extends AppError {
  constructor(code: string, message: string, extra: Record<string, unknown> = {}) {
    super(422, code, message, extra);
  }
}

export class PayloadTooLargeError extends AppError {
  constructor(message: string) {
    super(413, 'request.too_large', message);
  }
}

/** 503 with Retry-After: a bounded resource (inference queue, remote server) is saturated or down. */
export class ServiceUnavailableError extends AppError {
  constructor(code: string, message: string, readonly retryAfterSeconds = 1) {
    super(503, code, message);
  }
}

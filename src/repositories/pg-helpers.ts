/**
 * Small helpers for repositories. Recognising PostgreSQL errors through Drizzle's wrapper (DrizzleQueryError keeps the
 * driver's error as `cause`; node-postgres and PGlite both expose `code` and `constraint`).
 */
interface PgLikeError {
  code?: unknown;
  constraint?: unknown;
  message?: unknown;
  cause?: unknown;
}

function driverErrors(err: unknown): PgLikeError[] {
  const chain: PgLikeError[] = [];
  let current: unknown = err;
  for (let depth = 0; depth < 4 && current && typeof current === 'object'; depth++) {
    chain.push(current as PgLikeError);
    current = (current as PgLikeError).cause;
  }
  return chain;
}

function hasCode(err: unknown, code: string, constraint?: string): boolean {
  return driverErrors(err).some(
    (e) =>
      e.code === code &&
      (constraint === undefined ||
        e.constraint === constraint ||
        (typeof e.message === 'string' && e.message.includes(`"${constraint}"`))),
  );
}

/** 23505: a unique constraint (optionally the named one) refused the write. */
export function isUniqueViolation(err: unknown, constraint?: string): boolean {
  return hasCode(err, '23505', constraint);
}

/** 23503: a foreign key refused the write (a row still referenced, or a missing parent). */
export function isForeignKeyViolation(err: unknown, constraint?: string): boolean {
  return hasCode(err, '23503', constraint);
}

/** `%`, `_` and `\` taken literally inside an ILIKE pattern. */
export function escapeLike(value: string): string {
  return value.replace(/[\\%_]/g, (c) => `\\${c}`);
}

/** The keys whose value is not undefined (Drizzle's `set()` must not receive an empty patch). */
export function definedOnly<T extends object>(patch: T): Partial<T> {
  return Object.fromEntries(Object.entries(patch).filter(([, v]) => v !== undefined)) as Partial<T>;
}

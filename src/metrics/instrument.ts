/**
 * Wrappers that count what flows through the ports (detector, cache, recognition)
 * without the services knowing about metrics.
 */
import type { Cache } from '../cache/cache.js';
import type { DetectionResult, Detector } from '../ml/detector.js';
import { AppError } from '../shared/errors.js';
import type { Metrics } from './metrics.js';

/**
 * The detector with its stage timings and failures observed. Everything else (info,
 * inFlight, a remote detector's readiness) is the wrapped detector's, through the prototype.
 */
export function instrumentDetector<D extends Detector>(detector: D, metrics: Metrics, backend: string): D {
  if (typeof (detector as { inFlight?: unknown }).inFlight === 'number') {
    metrics.registerInferenceInFlight(backend, () => (detector as unknown as { inFlight: number }).inFlight);
  }
  async function detect(image: Buffer, options: Parameters<Detector['detect']>[1]): Promise<DetectionResult> {
    let result: DetectionResult;
    try {
      result = await detector.detect(image, options);
    } catch (err) {
      metrics.inferenceFailures.inc({ backend, code: err instanceof AppError ? err.code : 'internal' });
      throw err;
    }
    for (const [stage, ms] of Object.entries(result.timings)) {
      if (typeof ms === 'number') metrics.inferenceDuration.observe({ backend, stage }, ms / 1000);
    }
    return result;
  }
  return Object.create(detector, { detect: { value: detect, enumerable: true } }) as D;
}

/** Counts hits and misses of `get` by key space (the key up to its first colon). */
export function instrumentCache(cache: Cache, metrics: Metrics): Cache {
  return {
    ...cache,
    kind: cache.kind,
    async get(key) {
      const value = await cache.get(key);
      const keyspace = keyspaceOf(key);
      if (value === null) metrics.cacheMisses.inc({ keyspace });
      else metrics.cacheHits.inc({ keyspace });
      return value;
    },
    set: (key, value, ttl) => cache.set(key, value, ttl),
    setIfAbsent: (key, value, ttl) => cache.setIfAbsent(key, value, ttl),
    del: (key) => cache.del(key),
    increment: (key, ttl) => cache.increment(key, ttl),
    ping: () => cache.ping(),
    close: () => cache.close(),
  };
}

function keyspaceOf(key: string): string {
  const colon = key.indexOf(':');
  const prefix = colon > 0 ? key.slice(0, colon) : 'other';
  // Bounded cardinality: key spaces are short identifiers, anything else is "other".
  return /^[a-z][a-z0-9_-]{0,31}$/i.test(prefix) ? prefix : 'other';
}

/** Counts recognition verdicts. Works with any service whose `recognize` resolves with `{ comparison: { status } }`. */
export function instrumentRecognition<
  S extends { recognize(...args: never[]): Promise<{ comparison: { status: string } }> },
>(service: S, metrics: Metrics): S {
  const recognize = service.recognize.bind(service) as (...args: unknown[]) => Promise<{ comparison: { status: string } }>;
  return {
    ...service,
    async recognize(...args: unknown[]) {
      const recognition = await recognize(...args);
      metrics.recognitions.inc({ status: recognition.comparison.status });
      return recognition;
    },
  } as S;
}

/**
 * Counts recorded operations by type and status. Works with any service whose `checkout`
 * and `checkin` resolve with the recorded operation (`{ status }`).
 */
export function instrumentOperations<
  S extends {
    checkout(...args: never[]): Promise<{ status: string }>;
    checkin(...args: never[]): Promise<{ status: string }>;
  },
>(service: S, metrics: Metrics): S {
  const wrap = (type: 'checkout' | 'checkin') => {
    const call = service[type].bind(service) as (...args: unknown[]) => Promise<{ status: string }>;
    return async (...args: unknown[]) => {
      const operation = await call(...args);
      metrics.operations.inc({ type, status: operation.status });
      return operation;
    };
  };
  return { ...service, checkout: wrap('checkout'), checkin: wrap('checkin') } as S;
}

const CONNECTION_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENOTFOUND',
  'EPIPE',
  'EAI_AGAIN',
  '57P01', // admin_shutdown
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now
]);

/**
 * Whether an error came from the database, and what kind: `connection` (unreachable,
 * dropped, shutting down) or `query`. Follows `cause` (Drizzle wraps driver errors).
 */
export function classifyDatabaseError(error: unknown): 'connection' | 'query' | null {
  for (let e: unknown = error, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    const code = (e as { code?: unknown }).code;
    const message = e.message;
    if (typeof code === 'string' && (CONNECTION_CODES.has(code) || code.startsWith('08'))) return 'connection';
    if (/Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error/i.test(message)) {
      return 'connection';
    }
    // node-postgres DatabaseError carries a five-character SQLSTATE and a severity.
    if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) && 'severity' in e) return 'query';
    if (e.name === 'DrizzleQueryError') {
      // A wrapped error whose cause says nothing more is still a database error.
      if (!(e.cause instanceof Error)) return 'query';
    }
  }
  return error instanceof Error && error.name === 'DrizzleQueryError' ? 'query' : null;
}

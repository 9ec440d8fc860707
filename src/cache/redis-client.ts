import { Redis } from 'ioredis';
import type { Logger } from 'pino';

/**
 * A Redis connection that fails fast while Redis is away (commands time out after
 * a second, one retry) and reconnects in the background, logging the target and the
 * retry delay once per outage rather than on every attempt.
 */
export function createRedisClient(url: string, logger: Logger, options: { forBullmq?: boolean } = {}): Redis {
  const target = redactUrl(url);
  let down = false;
  const client = new Redis(url, {
    lazyConnect: false,
    connectTimeout: 3_000,
    // BullMQ requires null here and its own blocking semantics.
    maxRetriesPerRequest: options.forBullmq ? null : 1,
    // Commands issued while (re)connecting wait briefly instead of failing at once,
    // but never longer than commandTimeout: a Redis outage must not stall requests.
    enableOfflineQueue: true,
    ...(options.forBullmq ? {} : { commandTimeout: 1_000 }),
    retryStrategy: (attempt) => {
      const delay = Math.min(attempt * 200, 5_000);
      if (!down) logger.warn({ target, attempt, retryInMs: delay }, 'Redis unreachable; retrying');
      down = true;
      return delay;
    },
  });
  client.on('error', (err) => {
    if (!down) logger.warn({ target, err: err.message }, 'Redis connection error');
  });
  client.on('ready', () => {
    if (down) logger.info({ target }, 'Redis connection restored');
    down = false;
  });
  return client;
}

export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '<invalid url>';
  }
}

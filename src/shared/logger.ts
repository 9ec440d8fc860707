import { pino, type Logger, type LoggerOptions } from 'pino';

export type { Logger };

/** Tokens in query strings (`?access_token=` on media and event-stream URLs) never reach the logs. */
export function redactUrl(url: string): string {
  return url.replace(/([?&]access_token=)[^&#]*/gi, '$1[redacted]');
}

interface LoggedRequest {
  method?: string;
  url?: string;
  hostname?: string;
  ip?: string;
  socket?: { remotePort?: number };
}

/** Logger options shared by the API (through Fastify) and the worker. */
export function loggerOptions(level: string): LoggerOptions {
  return {
    level,
    base: { service: 'toolcontrol', pid: process.pid },
    redact: {
      paths: ['req.headers.authorization', 'req.headers.cookie', 'password', '*.password', 'refresh_token'],
      censor: '[redacted]',
    },
    serializers: {
      req: (req: LoggedRequest) => ({
        method: req.method,
        url: req.url === undefined ? undefined : redactUrl(req.url),
        host: req.hostname,
        remoteAddress: req.ip,
        remotePort: req.socket?.remotePort,
      }),
    },
  };
}

export function createLogger(level: string): Logger {
  return pino(loggerOptions(level));
}

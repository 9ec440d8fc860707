import { Writable } from 'node:stream';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { loggerOptions, redactUrl } from '../../src/shared/logger.js';

describe('logger', () => {
  it('keeps access tokens in query strings out of the logs', () => {
    expect(redactUrl('/media/a.jpg?access_token=eyJ.x.y&size=2')).toBe('/media/a.jpg?access_token=[redacted]&size=2');
    expect(redactUrl('/api/v1/jobs/1/events?x=1&ACCESS_TOKEN=abc')).toBe('/api/v1/jobs/1/events?x=1&ACCESS_TOKEN=[redacted]');
    expect(redactUrl('/base/health')).toBe('/base/health');
  });

  it('serialises requests with the URL redacted and the authorization header hidden', () => {
    const lines: string[] = [];
    const sink = new Writable({ write: (chunk, _enc, done) => (lines.push(String(chunk)), done()) });
    const log = pino(loggerOptions('info'), sink);
    log.info({ req: { method: 'GET', url: '/media/x.jpg?access_token=secret', ip: '127.0.0.1', socket: { remotePort: 5 } } }, 'incoming request');
    const line = JSON.parse(lines[0]!);
    expect(line.req).toEqual({ method: 'GET', url: '/media/x.jpg?access_token=[redacted]', remoteAddress: '127.0.0.1', remotePort: 5 });
    expect(lines[0]).not.toContain('secret');
  });
});

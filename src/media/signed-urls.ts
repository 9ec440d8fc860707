/**
 * Short-lived signed image URLs: `/media/<key>?exp=<unix seconds>&sig=<base64url>` opens
 * with no token, so an `<img src>` shows it as it is (no header, no token in the URL).
 *
 * sig = base64url(HMAC-SHA256(k, "<key>\n<exp>")), k derived from the JWT secret (HKDF,
 * its own label: a media signature can never pass for a token or the other way round).
 * The database keeps plain `/media/<key>` URLs; they are signed when a response is sent
 * (`signMediaUrls`), so every answer carries URLs valid `ttlSeconds` from then.
 *
 * `exp` is rounded up to a step of a tenth of the lifetime (at most a minute), so the same
 * image polled again soon gets the same URL and the browser's cache still serves it.
 */
import crypto from 'node:crypto';
import type { Clock } from '../shared/clock.js';

export type SignatureCheck = 'valid' | 'expired' | 'invalid';

export interface MediaUrlSigner {
  /** `/media/<key>` → the same URL signed; anything else (or a URL with a query already) unchanged. */
  signUrl(url: string): string;
  /** The query for `key`: `{ exp, sig }`. */
  sign(key: string): { exp: number; sig: string };
  /** Whether `sig` signs exactly `key` until `exp` and `exp` has not passed. */
  verify(key: string, exp: string | undefined, sig: string | undefined): SignatureCheck;
  readonly ttlSeconds: number;
}

const MEDIA_PREFIX = '/media/';
const EXP = /^[0-9]{1,12}$/;
const SIG = /^[A-Za-z0-9_-]{43}$/;

export function createMediaUrlSigner(options: { secret: string; ttlSeconds: number; clock: Clock }): MediaUrlSigner {
  const { ttlSeconds, clock } = options;
  const key = Buffer.from(crypto.hkdfSync('sha256', options.secret, 'toolcontrol', 'media-url-signature/v1', 32));
  const step = Math.max(1, Math.min(60, Math.floor(ttlSeconds / 10)));
  const nowSeconds = () => Math.floor(clock.now().getTime() / 1000);
  const mac = (mediaKey: string, exp: number) => crypto.createHmac('sha256', key).update(`${mediaKey}\n${exp}`).digest();

  function sign(mediaKey: string) {
    const exp = Math.ceil((nowSeconds() + ttlSeconds) / step) * step;
    return { exp, sig: mac(mediaKey, exp).toString('base64url') };
  }

  return {
    ttlSeconds,
    sign,
    signUrl(url) {
      if (!url.startsWith(MEDIA_PREFIX) || url.includes('?') || url.length === MEDIA_PREFIX.length) return url;
      const { exp, sig } = sign(url.slice(MEDIA_PREFIX.length));
      return `${url}?exp=${exp}&sig=${sig}`;
    },
    verify(mediaKey, exp, sig) {
      if (!exp || !sig || !EXP.test(exp) || !SIG.test(sig)) return 'invalid';
      const expected = mac(mediaKey, Number(exp));
      if (!crypto.timingSafeEqual(expected, Buffer.from(sig, 'base64url'))) return 'invalid';
      return Number(exp) < nowSeconds() ? 'expired' : 'valid';
    },
  };
}

/** The fields that hold image URLs, wherever they appear in a response. */
const IMAGE_URL_FIELDS = new Set(['image_url', 'processed_image_url', 'annotated_image_url']);

/**
 * `value` with every image URL field (at any depth: predictions, operations and their
 * result_json, job results) signed. Copy on write: what the caller holds (a cached or
 * stored object) is never changed; parts without image URLs are shared, not copied.
 */
export function signMediaUrls<T>(value: T, signer: MediaUrlSigner): T {
  return walk(value, signer, 0) as T;
}

function walk(value: unknown, signer: MediaUrlSigner, depth: number): unknown {
  if (value === null || typeof value !== 'object' || depth > 32) return value;
  if (Array.isArray(value)) {
    let out: unknown[] | null = null;
    for (let i = 0; i < value.length; i++) {
      const next = walk(value[i], signer, depth + 1);
      if (next !== value[i]) (out ??= value.slice())[i] = next;
    }
    return out ?? value;
  }
  // Only plain objects (and null-prototype ones): Dates, Buffers and streams pass unchanged.
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return value;
  let out: Record<string, unknown> | null = null;
  for (const [field, child] of Object.entries(value)) {
    const next = typeof child === 'string' ? (IMAGE_URL_FIELDS.has(field) ? signer.signUrl(child) : child) : walk(child, signer, depth + 1);
    if (next !== child) (out ??= { ...(value as Record<string, unknown>) })[field] = next;
  }
  return out ?? value;
}

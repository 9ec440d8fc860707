/** Image URLs come signed (`/media/<key>?exp=…&sig=…`): helpers to get at the plain parts. */

/** `/media/<key>?exp=…&sig=…` → `/media/<key>` (opens with a token only, per the access rules). */
export function unsigned(url: string): string {
  const query = url.indexOf('?');
  return query === -1 ? url : url.slice(0, query);
}

/** The media key of an image URL, signed or not. */
export function mediaKey(url: string): string {
  return unsigned(url).replace(/^\/media\//, '');
}

const IMAGE_URL_FIELDS = new Set(['image_url', 'processed_image_url', 'annotated_image_url']);

/** `value` with every image URL field's signature removed (to compare a response with stored data). */
export function withoutSignatures<T>(value: T): T {
  if (Array.isArray(value)) return value.map((v) => withoutSignatures(v)) as T;
  if (value === null || typeof value !== 'object' || value instanceof Date) return value;
  return Object.fromEntries(
    Object.entries(value).map(([k, v]) => [k, typeof v === 'string' && IMAGE_URL_FIELDS.has(k) ? unsigned(v) : withoutSignatures(v)]),
  ) as T;
}

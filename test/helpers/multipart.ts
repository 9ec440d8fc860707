/** Multipart bodies for app.inject and fetch (FormData serialised by undici's Response). */
export async function multipartBody(fields: Record<string, string | number | undefined>, files: Array<{ field: string; data: Buffer; filename?: string; type?: string }>) {
  const form = new FormData();
  for (const [k, v] of Object.entries(fields)) if (v !== undefined) form.append(k, String(v));
  for (const f of files) form.append(f.field, new Blob([new Uint8Array(f.data)], { type: f.type ?? 'image/jpeg' }), f.filename ?? 'photo.jpg');
  const response = new Response(form);
  return { payload: Buffer.from(await response.arrayBuffer()), headers: { 'content-type': response.headers.get('content-type')! } };
}

/**
 * Multipart uploads. Routes read their parts with `readUpload`, which validates
 * the text fields with a TypeBox schema (422 with field errors, as FastAPI) and collects files
 * up to the configured size (413 beyond). The same schema documents the route.
 */
import multipart from '@fastify/multipart';
import type { FastifyInstance, FastifyRequest, FastifySchema } from 'fastify';
import { Type, type Static, type TObject, type TProperties } from 'typebox';
import { Value } from 'typebox/value';
import { AppError, BadRequestError, UnsupportedMediaError } from '../../shared/errors.js';

export interface UploadedFile {
  field: string;
  filename: string;
  mimetype: string;
  data: Buffer;
}

export async function registerMultipart(app: FastifyInstance, limits: { maxFileBytes: number; maxFiles: number }): Promise<void> {
  await app.register(multipart, {
    limits: { fileSize: limits.maxFileBytes, files: limits.maxFiles, fields: 20, fieldSize: 64 * 1024, parts: limits.maxFiles + 20 },
    throwFileSizeLimit: true,
  });
}

/**
 * Route options for a multipart route: documents the body (fields + binary files)
 * in OpenAPI while leaving the parsing to `readUpload` (Fastify cannot validate a
 * streamed multipart body itself).
 */
export function multipartSchema<P extends TProperties>(
  fields: TObject<P>,
  files: Record<string, { description: string; multiple?: boolean; required?: boolean }>,
) {
  const fileProps = Object.fromEntries(
    Object.entries(files).map(([name, f]) => {
      const one = Type.String({ format: 'binary', description: f.description });
      return [name, f.multiple ? Type.Array(one, { description: f.description }) : one];
    }),
  );
  const required = Object.entries(files)
    .filter(([, f]) => f.required !== false)
    .map(([n]) => n);
  const body = Type.Object({ ...fields.properties, ...fileProps });
  (body as { required?: string[] }).required = [...new Set([...((fields as { required?: string[] }).required ?? []), ...required])];
  return {
    schema: { consumes: ['multipart/form-data'], body } satisfies FastifySchema,
    // The body schema is for the docs; readUpload validates the parts. Multipart
    // routes take no params or querystring, so nothing else goes unvalidated.
    validatorCompiler: () => () => true,
  };
}

export async function readUpload<S extends TObject>(
  request: FastifyRequest,
  fieldsSchema: S,
  fileFields: readonly string[],
): Promise<{ fields: Static<S>; files: UploadedFile[] }> {
  if (!request.isMultipart()) throw new UnsupportedMediaError('Send the request as multipart/form-data');
  const raw: Record<string, string> = {};
  const files: UploadedFile[] = [];
  try {
    for await (const part of request.parts()) {
      if (part.type === 'file') {
        const field = part.fieldname.replace(/\[\]$/, '');
        if (!fileFields.includes(field)) {
          part.file.resume();
          throw new BadRequestError('request.unexpected_file', `Unexpected file field "${part.fieldname}"`, {
            errors: [{ field: part.fieldname, message: `expected one of: ${fileFields.join(', ')}` }],
          });
        }
        files.push({ field, filename: part.filename, mimetype: part.mimetype, data: await part.toBuffer() });
      } else {
        raw[part.fieldname] = String(part.value);
      }
    }
  } catch (err) {
    throw asMultipartError(err);
  }
  return { fields: validateFields(fieldsSchema, raw), files };
}

/**
 * Text fields of a multipart body, converted and checked against the route's schema (422 with
 * field errors, FastAPI's status for values that fail validation). An empty number field is one left blank in a form: it counts as not given
 * (its default applies, or it is reported missing), not as 0.
 */
export function validateFields<S extends TObject>(fieldsSchema: S, raw: Record<string, string>): Static<S> {
  const given = Object.fromEntries(
    Object.entries(raw).filter(([name, value]) => value.trim() !== '' || !NUMERIC.has(String((fieldsSchema.properties[name] as { type?: unknown } | undefined)?.type))),
  );
  const converted = Value.Default(fieldsSchema, Value.Convert(fieldsSchema, given));
  const errors = [...Value.Errors(fieldsSchema, converted)].map((e) => {
    const missing = (e.params as { requiredProperties?: string[] } | undefined)?.requiredProperties;
    return { field: missing?.join(', ') ?? e.instancePath.replace(/^\//, ''), message: e.message };
  });
  if (errors.length > 0) {
    throw new AppError(422, 'request.validation_failed', errors.map((e) => `${e.field}: ${e.message}`).join('; '), { errors });
  }
  return converted as Static<S>;
}

const NUMERIC = new Set(['number', 'integer']);

/**
 * A body the multipart parser cannot read (no boundary, cut off mid-part, a broken part
 * header) is the client's mistake: 400, not 500. The parser throws plain errors for these;
 * errors that already carry a status (size limits…) pass through.
 */
export function asMultipartError(err: unknown): unknown {
  if (err instanceof AppError || !(err instanceof Error) || typeof (err as { statusCode?: unknown }).statusCode === 'number') return err;
  if (!/multipart|boundary|unexpected end|malformed|part header/i.test(err.message)) return err;
  return new BadRequestError('request.malformed_multipart', `The multipart body could not be read: ${err.message}`);
}

import { Type } from 'typebox';

/** The problem+json body every error response carries. */
export const ProblemSchema = Type.Object(
  {
    type: Type.String(),
    title: Type.String(),
    status: Type.Integer(),
    detail: Type.String(),
    code: Type.String(),
    instance: Type.Optional(Type.String()),
    request_id: Type.Optional(Type.String()),
    errors: Type.Optional(Type.Array(Type.Object({ field: Type.String(), message: Type.String() }))),
  },
  { $id: 'Problem', additionalProperties: true, description: 'RFC 9457 problem details' },
);

/**
 * Error responses to declare on a route, as `$ref`s to the shared Problem schema. A route that
 * may answer 400 (a request it cannot read) takes input, so it may answer 422 too: values that
 * fail validation, FastAPI's status.
 */
export function problems(...statuses: number[]): Record<number, unknown> {
  const all = statuses.includes(400) && !statuses.includes(422) ? [...statuses, 422] : statuses;
  return Object.fromEntries(all.map((s) => [s, Type.Ref('Problem')]));
}

import { Type, type TSchema } from 'typebox';

/** `skip` / `limit` as in the seed's history route. */
export const PaginationQuery = {
  skip: Type.Integer({ minimum: 0, maximum: 1_000_000, default: 0, description: 'Rows to skip' }),
  limit: Type.Integer({ minimum: 1, maximum: 500, default: 100, description: 'Rows to return (at most 500)' }),
};

/** A page of a list: the rows and how many match in all. */
export function Page<T extends TSchema>(item: T) {
  return Type.Object({
    items: Type.Array(item),
    total: Type.Integer({ minimum: 0, description: 'Rows matching the filters, over all pages' }),
    skip: Type.Integer({ minimum: 0 }),
    limit: Type.Integer({ minimum: 1 }),
  });
}

/** A positive 32-bit id in a path (`1 OR 1=1` is a 400, never a query). */
export const IdParams = Type.Object({ id: Type.Integer({ minimum: 1, maximum: 2_147_483_647 }) });

export const DateTime = Type.String({ format: 'date-time' });
export const NullableDateTime = Type.Union([DateTime, Type.Null()]);

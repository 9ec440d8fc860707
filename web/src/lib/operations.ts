import { api, type Operation } from './api/client';
import { storedResult } from './result';

/** The checkout a checkin returned (for its missing_at_checkout), or null. */
export async function checkoutOf(op: Operation): Promise<Operation | null> {
  const id = storedResult(op).checkout_operation_id;
  if (op.operation_type !== 'checkin' || !id) return null;
  const res = await api.GET('/api/v1/operations/{id}', { params: { path: { id } } });
  return res.data ?? null;
}

import { api, ok, type AuditEntry, type Operation, type Toolkit, type User } from './api/client';
import { people } from './people.svelte';
import { storedResult } from './result';

/** The checkout a checkin returned (for its missing_at_checkout), or null. */
export async function checkoutOf(op: Operation): Promise<Operation | null> {
  const id = storedResult(op).checkout_operation_id;
  if (op.operation_type !== 'checkin' || !id) return null;
  const res = await api.GET('/api/v1/operations/{id}', { params: { path: { id } } });
  return res.data ?? null;
}

export interface OperationView {
  operation: Operation & { audit: AuditEntry[] };
  kit: Toolkit;
  users: Map<number, User>;
  checkout: Operation | null;
}

/** Everything an operation's page and its review show: the operation, its kit, the names, and its checkout. */
export async function loadOperationView(id: number): Promise<OperationView> {
  const operation = ok(await api.GET('/api/v1/operations/{id}', { params: { path: { id } } }));
  const [kit, users, checkout] = await Promise.all([
    api.GET('/api/v1/toolkits/{id}', { params: { path: { id: operation.toolkit_id } } }).then(ok),
    people(),
    checkoutOf(operation),
  ]);
  return { operation, kit, users, checkout };
}

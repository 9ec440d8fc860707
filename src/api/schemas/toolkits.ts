import { Type } from 'typebox';
import type { ToolkitState } from '../../services/toolkits-service.js';
import { DateTime, NullableDateTime } from './pagination.js';

const Name = Type.String({ minLength: 1, maxLength: 200 });
// Null first: with type coercion on, a string branch tried first would turn null into "".
const Description = Type.Union([Type.Null(), Type.String({ maxLength: 2000 })]);

export const ToolkitItemInput = Type.Object(
  {
    tool_id: Type.Integer({ minimum: 1, maximum: 2_147_483_647 }),
    quantity: Type.Integer({ minimum: 1, maximum: 1000 }),
  },
  { additionalProperties: false },
);
const Items = Type.Array(ToolkitItemInput, { minItems: 1, maxItems: 500 });

export const ToolkitSchema = Type.Object(
  {
    id: Type.Integer(),
    name: Type.String(),
    description: Type.Union([Type.String(), Type.Null()]),
    is_active: Type.Boolean(),
    status: Type.Enum(['available', 'held'], { description: 'held: checked out (also while flagged)' }),
    holder: Type.Union([
      Type.Object({ id: Type.Integer(), full_name: Type.String(), employee_number: Type.String() }),
      Type.Null(),
    ]),
    held_since: NullableDateTime,
    overdue: Type.Boolean({ description: 'Held for longer than KIT_OVERDUE_HOURS (flagged kits included)' }),
    overdue_since: Type.Union([DateTime, Type.Null()], {
      description: 'When the kit is or becomes overdue: held_since + KIT_OVERDUE_HOURS; null when nobody holds it',
    }),
    checkout_operation_id: Type.Union([Type.Integer(), Type.Null()]),
    flagged: Type.Boolean({ description: 'A checkin with a discrepancy awaits review; the kit stays with its holder' }),
    flagged_operation_id: Type.Union([Type.Integer(), Type.Null()]),
    items: Type.Array(
      Type.Object({
        tool_id: Type.Integer(),
        class_key: Type.String(),
        name: Type.String(),
        serial_number: Type.Union([Type.String(), Type.Null()]),
        quantity: Type.Integer(),
      }),
    ),
    created_at: DateTime,
  },
  { $id: 'Toolkit' },
);

export const CreateToolkitBody = Type.Object(
  { name: Name, description: Type.Optional(Description), is_active: Type.Optional(Type.Boolean()), items: Items },
  { additionalProperties: false },
);

export const UpdateToolkitBody = Type.Object(
  { name: Type.Optional(Name), description: Type.Optional(Description), is_active: Type.Optional(Type.Boolean()) },
  { additionalProperties: false, minProperties: 1 },
);

export const ReplaceItemsBody = Type.Object({ items: Items }, { additionalProperties: false });

export const ToolkitListQuery = Type.Object(
  {
    status: Type.Optional(
      Type.Enum(['held', 'available', 'flagged', 'overdue'], {
        description:
          'held: checked out (flagged included); available: in the tool room; flagged: discrepancy awaiting review; ' +
          'overdue: held for longer than KIT_OVERDUE_HOURS',
      }),
    ),
    active: Type.Optional(Type.Boolean()),
    holder_id: Type.Optional(Type.Integer({ minimum: 1, maximum: 2_147_483_647, description: 'Only kits held by this user' })),
  },
  { additionalProperties: false },
);

export function toolkitDto(toolkit: ToolkitState) {
  return {
    id: toolkit.id,
    name: toolkit.name,
    description: toolkit.description,
    is_active: toolkit.isActive,
    status: toolkit.holderId === null ? ('available' as const) : ('held' as const),
    holder: toolkit.holder
      ? { id: toolkit.holder.id, full_name: toolkit.holder.fullName, employee_number: toolkit.holder.employeeNumber }
      : null,
    held_since: toolkit.heldSince?.toISOString() ?? null,
    overdue: toolkit.overdue,
    overdue_since: toolkit.overdueSince?.toISOString() ?? null,
    checkout_operation_id: toolkit.checkoutOperationId,
    flagged: toolkit.flaggedOperationId !== null,
    flagged_operation_id: toolkit.flaggedOperationId,
    items: toolkit.items.map((i) => ({
      tool_id: i.toolId,
      class_key: i.classKey,
      name: i.name,
      serial_number: i.serialNumber,
      quantity: i.quantity,
    })),
    created_at: toolkit.createdAt.toISOString(),
  };
}

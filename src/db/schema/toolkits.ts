import { sql } from 'drizzle-orm';
import { boolean, check, index, integer, pgTable, serial, text, timestamp, unique } from 'drizzle-orm/pg-core';
import { tools } from './tools.js';
import { users } from './users.js';

export const toolkits = pgTable(
  'toolkits',
  {
    id: serial('id').primaryKey(),
    name: text('name').notNull().unique(),
    description: text('description'),
    isActive: boolean('is_active').notNull().default(true),
    /** The engineer holding the kit now; null when it is in the tool room. */
    holderId: integer('holder_id').references(() => users.id),
    heldSince: timestamp('held_since', { withTimezone: true }),
    /** The checkout operation that put the kit in the holder's hands. */
    checkoutOperationId: integer('checkout_operation_id'),
    /** A checkin with a discrepancy not yet resolved: the kit stays attributed to the holder. */
    flaggedOperationId: integer('flagged_operation_id'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index('toolkits_holder_idx').on(t.holderId)],
);

export const toolkitItems = pgTable(
  'toolkit_items',
  {
    id: serial('id').primaryKey(),
    toolkitId: integer('toolkit_id')
      .notNull()
      .references(() => toolkits.id, { onDelete: 'cascade' }),
    toolId: integer('tool_id')
      .notNull()
      .references(() => tools.id),
    quantity: integer('quantity').notNull().default(1),
  },
  (t) => [
    unique('toolkit_items_toolkit_tool_uq').on(t.toolkitId, t.toolId),
    check('toolkit_items_quantity_positive', sql`${t.quantity} > 0`),
  ],
);

export type Toolkit = typeof toolkits.$inferSelect;
export type NewToolkit = typeof toolkits.$inferInsert;
export type ToolkitItem = typeof toolkitItems.$inferSelect;

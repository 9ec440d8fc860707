/** Toolkits: their contents (administration) and their state (who holds which kit). */
import type { Db, DbOrTx } from '../db/client.js';
import { isUniqueViolation } from '../repositories/pg-helpers.js';
import { findToolsByIds } from '../repositories/tools-repository.js';
import {
  deleteToolkit,
  getToolkitWithItems,
  insertToolkit,
  listToolkits,
  lockToolkit,
  replaceToolkitItems,
  TOOLKIT_NAME_CONSTRAINT,
  toolkitHasHistory,
  updateToolkit,
  type ToolkitPatch,
  type ToolkitStatusFilter,
  type ToolkitWithItems,
} from '../repositories/toolkits-repository.js';
import type { Clock } from '../shared/clock.js';
import { BadRequestError, ConflictError, NotFoundError } from '../shared/errors.js';

export interface ToolkitItemInput {
  toolId: number;
  quantity: number;
}

export interface NewToolkitInput {
  name: string;
  description?: string | null;
  isActive?: boolean;
  items: ToolkitItemInput[];
}

/** A kit as the API shows it: its contents and custody, and whether it is overdue. */
export interface ToolkitState extends ToolkitWithItems {
  /** When the kit becomes overdue (held since + the allowed hours); null when nobody holds it. */
  overdueSince: Date | null;
  /** Held for longer than the allowed hours. */
  overdue: boolean;
}

export interface ToolkitListFilter {
  /** overdue: held for longer than the allowed hours (flagged kits included). */
  status?: ToolkitStatusFilter | 'overdue';
  active?: boolean;
  holderId?: number;
  skip: number;
  limit: number;
}

export function createToolkitsService(deps: { db: Db; clock: Clock; overdueHours: number }) {
  const { db, clock } = deps;
  const overdueMs = deps.overdueHours * 3600 * 1000;
  const notFound = (id: number) => new NotFoundError('toolkit.not_found', `No toolkit with id ${id}`);

  async function uniqueName<T>(name: string | undefined, write: () => Promise<T>): Promise<T> {
    try {
      return await write();
    } catch (err) {
      if (isUniqueViolation(err, TOOLKIT_NAME_CONSTRAINT)) {
        throw new ConflictError('toolkit.name_taken', `A toolkit named «${name}» already exists`);
      }
      throw err;
    }
  }

  /** Items name each tool once, and only existing, active tools. */
  async function checkItems(tx: DbOrTx, items: readonly ToolkitItemInput[]): Promise<void> {
    const ids = items.map((i) => i.toolId);
    const duplicates = [...new Set(ids.filter((id, i) => ids.indexOf(id) !== i))];
    if (duplicates.length > 0) {
      throw new BadRequestError('toolkit.duplicate_tool', `Each tool may appear once; repeated: ${duplicates.join(', ')}`, {
        tool_ids: duplicates,
      });
    }
    const found = await findToolsByIds(tx, ids);
    const unknown = ids.filter((id) => !found.some((t) => t.id === id));
    if (unknown.length > 0) {
      throw new BadRequestError('toolkit.unknown_tool', `No tool with id ${unknown.join(', ')}`, { tool_ids: unknown });
    }
    const inactive = found.filter((t) => !t.isActive).map((t) => t.id);
    if (inactive.length > 0) {
      throw new BadRequestError('toolkit.inactive_tool', `Deactivated tools cannot be put in a kit: ${inactive.join(', ')}`, {
        tool_ids: inactive,
      });
    }
  }

  function withOverdue(toolkit: ToolkitWithItems, now: Date): ToolkitState {
    const overdueSince = toolkit.holderId !== null && toolkit.heldSince ? new Date(toolkit.heldSince.getTime() + overdueMs) : null;
    return { ...toolkit, overdueSince, overdue: overdueSince !== null && now.getTime() > overdueSince.getTime() };
  }

  async function get(id: number): Promise<ToolkitState> {
    const toolkit = await getToolkitWithItems(db, id);
    if (!toolkit) throw notFound(id);
    return withOverdue(toolkit, clock.now());
  }

  return {
    /** A page of kits; `overdue` is decided in the query, against the same moment as each kit's `overdue`. */
    async list(filter: ToolkitListFilter): Promise<{ items: ToolkitState[]; total: number }> {
      const now = clock.now();
      const { status, ...rest } = filter;
      const page = await listToolkits(db, {
        ...rest,
        ...(status === 'overdue' ? { heldBefore: new Date(now.getTime() - overdueMs) } : { status }),
      });
      return { items: page.items.map((toolkit) => withOverdue(toolkit, now)), total: page.total };
    },
    get,

    async create(input: NewToolkitInput): Promise<ToolkitState> {
      const id = await uniqueName(input.name, () =>
        db.transaction(async (tx) => {
          await checkItems(tx, input.items);
          const toolkit = await insertToolkit(tx, {
            name: input.name,
            description: input.description ?? null,
            isActive: input.isActive ?? true,
          });
          await replaceToolkitItems(tx, toolkit.id, input.items);
          return toolkit.id;
        }),
      );
      return get(id);
    },

    async update(id: number, patch: ToolkitPatch): Promise<ToolkitState> {
      const found = await uniqueName(patch.name, () => updateToolkit(db, id, patch));
      if (!found) throw notFound(id);
      return get(id);
    },

    /** Replace the kit's contents; refused while someone holds it (it would change what they must return). */
    async replaceItems(id: number, items: ToolkitItemInput[]): Promise<ToolkitState> {
      await db.transaction(async (tx) => {
        const toolkit = await lockToolkit(tx, id);
        if (!toolkit) throw notFound(id);
        if (toolkit.holderId !== null) {
          throw new ConflictError('toolkit.held', 'The kit is checked out; change its contents after it is returned', {
            holder_id: toolkit.holderId,
          });
        }
        await checkItems(tx, items);
        await replaceToolkitItems(tx, id, items);
      });
      return get(id);
    },

    /** Only a kit without history can go; otherwise deactivate it. */
    async delete(id: number): Promise<void> {
      await db.transaction(async (tx) => {
        const toolkit = await lockToolkit(tx, id);
        if (!toolkit) throw notFound(id);
        if (toolkit.holderId !== null || (await toolkitHasHistory(tx, id))) {
          throw new ConflictError(
            'toolkit.has_history',
            'Operations refer to this kit; deactivate it (is_active: false) instead of deleting it',
          );
        }
        await deleteToolkit(tx, id);
      });
    },
  };
}

export type ToolkitsService = ReturnType<typeof createToolkitsService>;

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
  type ToolkitFilter,
  type ToolkitPatch,
  type ToolkitWithItems,
} from '../repositories/toolkits-repository.js';
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

export function createToolkitsService(deps: { db: Db }) {
  const { db } = deps;
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

  async function get(id: number): Promise<ToolkitWithItems> {
    const toolkit = await getToolkitWithItems(db, id);
    if (!toolkit) throw notFound(id);
    return toolkit;
  }

  return {
    list: (filter: ToolkitFilter) => listToolkits(db, filter),
    get,

    async create(input: NewToolkitInput): Promise<ToolkitWithItems> {
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

    async update(id: number, patch: ToolkitPatch): Promise<ToolkitWithItems> {
      const found = await uniqueName(patch.name, () => updateToolkit(db, id, patch));
      if (!found) throw notFound(id);
      return get(id);
    },

    /** Replace the kit's contents; refused while someone holds it (it would change what they must return). */
    async replaceItems(id: number, items: ToolkitItemInput[]): Promise<ToolkitWithItems> {
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

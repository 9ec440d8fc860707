/** The tool register: tools with serial number, category and the class the detector knows them by. */
import type { Db } from '../db/client.js';
import type { Tool } from '../db/schema/index.js';
import { isUniqueViolation } from '../repositories/pg-helpers.js';
import {
  deleteTool,
  findToolById,
  heldKitsWithTool,
  insertTool,
  listTools,
  SERIAL_NUMBER_CONSTRAINT,
  toolHasHistory,
  updateTool,
  type ToolFilter,
  type ToolPatch,
} from '../repositories/tools-repository.js';
import { ConflictError, NotFoundError } from '../shared/errors.js';

export interface ToolInput {
  name: string;
  serialNumber?: string | null;
  category?: string | null;
  classKey: string;
  isActive?: boolean;
}

export function createToolsService(deps: { db: Db }) {
  const { db } = deps;
  const notFound = (id: number) => new NotFoundError('tool.not_found', `No tool with id ${id}`);

  async function uniqueSerial<T>(serialNumber: string | null | undefined, write: () => Promise<T>): Promise<T> {
    try {
      return await write();
    } catch (err) {
      if (isUniqueViolation(err, SERIAL_NUMBER_CONSTRAINT)) {
        throw new ConflictError('tool.serial_number_taken', `Serial number ${serialNumber} is already registered`);
      }
      throw err;
    }
  }

  return {
    list: (filter: ToolFilter) => listTools(db, filter),

    async get(id: number): Promise<Tool> {
      const tool = await findToolById(db, id);
      if (!tool) throw notFound(id);
      return tool;
    },

    create(input: ToolInput): Promise<Tool> {
      return uniqueSerial(input.serialNumber, () =>
        insertTool(db, {
          name: input.name,
          serialNumber: input.serialNumber ?? null,
          category: input.category ?? null,
          classKey: input.classKey,
          isActive: input.isActive ?? true,
        }),
      );
    },

    /**
     * The class a tool is recognised as is part of what its kits must contain: it cannot change
     * while one of those kits is out, or the kit would be judged on return against contents it
     * was not issued with (as replacing a held kit's items is refused).
     */
    async update(id: number, patch: ToolPatch): Promise<Tool> {
      return db.transaction(async (tx) => {
        const current = await findToolById(tx, id);
        if (!current) throw notFound(id);
        if (patch.classKey !== undefined && patch.classKey !== current.classKey) {
          const held = await heldKitsWithTool(tx, id);
          if (held.length > 0) {
            throw new ConflictError('tool.in_held_kit', `The tool is in a kit that is checked out («${held[0]!.name}»); change its class after the kit is returned`, {
              toolkit_ids: held.map((k) => k.id),
            });
          }
        }
        const tool = await uniqueSerial(patch.serialNumber, () => updateTool(tx, id, patch));
        if (!tool) throw notFound(id);
        return tool;
      });
    },

    /** Only a tool without history can go; one whose kit has operations is deactivated instead. */
    async delete(id: number): Promise<void> {
      await db.transaction(async (tx) => {
        if (!(await findToolById(tx, id))) throw notFound(id);
        if (await toolHasHistory(tx, id)) {
          throw new ConflictError(
            'tool.has_history',
            'The tool belongs to a kit with recorded operations; deactivate it (is_active: false) instead',
          );
        }
        await deleteTool(tx, id);
      });
    },
  };
}

export type ToolsService = ReturnType<typeof createToolsService>;

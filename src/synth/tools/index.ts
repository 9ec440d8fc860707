/** The drawing for each tool class. */
import type { ToolClassKey } from '../../domain/tool-classes.js';
import type { Random } from '../random.js';
import type { ToolDrawing } from '../sketch.js';
import { drawBrace } from './brace.js';
import { drawPliers, drawSafetyWirePliers, drawShernitsa, drawSideCutters } from './pliers.js';
import { drawFlatScrewdriver, drawOffsetPhillipsScrewdriver, drawPhillipsScrewdriver } from './screwdrivers.js';
import { drawAdjustableWrench, drawCombinationWrench, drawOilCanOpener } from './wrenches.js';

export type ToolDrawer = (rng: Random) => ToolDrawing;

export const TOOL_DRAWERS: Readonly<Record<ToolClassKey, ToolDrawer>> = {
  screwdriver_flat: drawFlatScrewdriver,
  screwdriver_phillips: drawPhillipsScrewdriver,
  screwdriver_offset_phillips: drawOffsetPhillipsScrewdriver,
  brace: drawBrace,
  safety_wire_pliers: drawSafetyWirePliers,
  pliers: drawPliers,
  shernitsa: drawShernitsa,
  adjustable_wrench: drawAdjustableWrench,
  oil_can_opener: drawOilCanOpener,
  combination_wrench_3_4: drawCombinationWrench,
  side_cutters: drawSideCutters,
};

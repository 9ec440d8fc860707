/**
 * Checkout (выдача) and checkin (сдача) with photo verification, and the
 * storekeeper's review of uncertain or incomplete returns.
 *
 * An operation is written all-or-nothing: the original photo, the annotated photo
 * and the operation row (with the kit's custody change) either all exist or none
 * does. Images are stored first; any later failure deletes them again.
 */
import type { Operation, OperationStatus, OperationType, ReviewDecision, UserRole } from '../db/schema/index.js';
import { compareKit, type ClassShortfall, type KitComparison, type UncertainClass } from '../domain/kit-comparison.js';
import { TOOL_CLASSES } from '../domain/tool-classes.js';
import type { DbOrTx } from '../db/client.js';
import type { MediaStore } from '../media/media-store.js';
import { newMediaKey } from '../media/media-store.js';
import { imageType } from '../media/image-type.js';
import type { HistoryFilter, KitCustodyRepository, OperationsRepository } from '../repositories/operations.js';
import type { Clock } from '../shared/clock.js';
import { AppError, ConflictError, ForbiddenError, NotFoundError, ServiceUnavailableError } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import { mediaUrl } from './prediction-service.js';
import type { Recognition, RecognitionService } from './recognition-service.js';

export interface Actor {
  id: number;
  role: UserRole;
}

export interface OperationUser {
  id: number;
  role: UserRole;
  isActive: boolean;
  fullName: string;
}

export interface LostTool {
  class_key: string;
  tool_name: string;
  count: number;
}

const TOOL_NAMES: Record<string, string> = Object.fromEntries(TOOL_CLASSES.map((c) => [c.key, c.name]));

/** The operation as the API returns it (seed 001's OperationResponse, plus evidence links and review). */
export function presentOperation(op: Operation) {
  return {
    id: op.id,
    user_id: op.userId,
    acted_by_id: op.actedById,
    toolkit_id: op.toolkitId,
    operation_type: op.operationType,
    timestamp: op.timestamp.toISOString(),
    status: op.status,
    match_percentage: op.matchPercentage,
    result_json: op.resultJson,
    image_url: mediaUrl(op.originalImageKey),
    annotated_image_url: mediaUrl(op.annotatedImageKey),
    review:
      op.resolvedAt === null
        ? null
        : {
            decision: op.resolution,
            note: op.resolutionNote,
            resolved_by_id: op.resolvedById,
            resolved_at: op.resolvedAt.toISOString(),
          },
  };
}

export type OperationView = ReturnType<typeof presentOperation>;

/** Tools present at checkout and absent now: what this engineer lost. */
export function lostSinceCheckout(atCheckout: Record<string, number>, now: Record<string, number>): LostTool[] {
  return Object.entries(atCheckout)
    .map(([key, before]) => ({ class_key: key, tool_name: TOOL_NAMES[key] ?? key, count: before - (now[key] ?? 0) }))
    .filter((t) => t.count > 0)
    .sort((a, b) => a.class_key.localeCompare(b.class_key));
}

export function createOperationService(deps: {
  recognition: RecognitionService;
  media: MediaStore;
  operations: OperationsRepository;
  custody: KitCustodyRepository;
  findUser: (id: number) => Promise<OperationUser | null>;
  transaction: <T>(fn: (tx: DbOrTx) => Promise<T>) => Promise<T>;
  clock: Clock;
  logger: Logger;
  matchThreshold: number;
}) {
  const { operations, custody, logger } = deps;

  /**
   * The engineer the operation is for: engineers act for themselves; storekeepers and admins for anyone.
   * A deactivated user cannot take a kit, but a kit they still hold must be able to come back.
   */
  async function resolveEngineer(
    actor: Actor,
    engineerId: number | undefined,
    fallback: number | null,
    options: { mayBeInactive?: boolean } = {},
  ): Promise<OperationUser> {
    if (actor.role === 'engineer' && engineerId !== undefined && engineerId !== actor.id) {
      throw new ForbiddenError('operation.not_own', 'Engineers can only take and return kits for themselves');
    }
    const id = actor.role === 'engineer' ? actor.id : (engineerId ?? fallback ?? actor.id);
    const user = await deps.findUser(id);
    if (!user) throw new NotFoundError('user.not_found', `User ${id} does not exist`);
    if (!user.isActive && !options.mayBeInactive) throw new ConflictError('user.inactive', `User ${id} is deactivated`);
    return user;
  }

  /**
   * What the kit held when it was issued, as far as the record goes: the confident counts of
   * the checkout photo, with a storekeeper's review applied. `confirmed` means the uncertain
   * detections were the missing tools; corrected counts replace the counts of the classes they name.
   */
  async function countsAtCheckout(checkoutOp: Operation | null): Promise<Record<string, number>> {
    if (!checkoutOp) return {};
    const result = checkoutOp.resultJson;
    const counts: Record<string, number> = { ...((result.counts as Record<string, number> | undefined) ?? {}) };
    if (checkoutOp.resolution === 'confirmed') {
      const uncertain = new Map(((result.uncertain as UncertainClass[] | undefined) ?? []).map((u) => [u.class_key, u.count]));
      for (const m of (result.missing_tools as ClassShortfall[] | undefined) ?? []) {
        counts[m.class_key] = (counts[m.class_key] ?? 0) + Math.min(m.count, uncertain.get(m.class_key) ?? 0);
      }
    }
    if (checkoutOp.resolvedAt !== null) {
      for (const entry of await operations.auditOf(checkoutOp.id)) {
        Object.assign(counts, entry.after.corrected_counts as Record<string, number> | undefined);
      }
    }
    return counts;
  }

  async function record(input: {
    actor: Actor;
    engineer: OperationUser;
    toolkitId: number;
    type: OperationType;
    image: Buffer;
    recognition: Recognition;
    extraResult: Record<string, unknown>;
    /** The recorded status when it is not the comparison's own (see checkin). */
    status?: OperationStatus;
    applyCustody: (tx: DbOrTx, operation: Operation) => Promise<void>;
  }): Promise<Operation> {
    const { recognition } = input;
    if (!recognition.annotated) throw new Error('An operation needs its annotated photo; recognise with draw enabled');
    const annotated = recognition.annotated;
    const original = imageType(input.image);
    const originalKey = newMediaKey('operation', `original.${original.ext}`);
    const annotatedKey = newMediaKey('operation', 'annotated.jpg');
    const written: string[] = [];
    const rollbackFiles = async () => {
      for (const key of written) {
        await deps.media.delete(key).catch((err: Error) => logger.error({ key, err: err.message }, 'could not remove image of a failed operation'));
      }
    };
    try {
      await deps.media.put(originalKey, input.image, original.type);
      written.push(originalKey);
      await deps.media.put(annotatedKey, annotated, 'image/jpeg');
      written.push(annotatedKey);
    } catch (err) {
      await rollbackFiles();
      logger.error({ err, toolkitId: input.toolkitId }, 'storing operation images failed');
      throw new ServiceUnavailableError(
        'media.write_failed',
        `The photo could not be stored (${(err as NodeJS.ErrnoException).code ?? 'storage error'}); nothing was recorded. Try again.`,
        5,
      );
    }

    const c = recognition.comparison;
    const resultJson = {
      detections: recognition.detections,
      detected_tools: recognition.detections.filter((d) => !d.uncertain).map((d) => ({ class_name: d.tool_key ?? d.class_name, confidence: d.confidence })),
      counts: c.counts,
      match_percentage: c.match_percentage,
      missing_tools: c.missing,
      extra_tools: c.extra,
      uncertain: c.uncertain,
      unmapped: recognition.unmapped,
      ...input.extraResult,
      model: recognition.model,
      thresholds: recognition.thresholds,
      image: recognition.image,
      image_url: mediaUrl(originalKey),
      annotated_image_url: mediaUrl(annotatedKey),
      timings_ms: recognition.timings_ms,
    };

    try {
      return await deps.transaction(async (tx) => {
        const operation = await operations.insert(
          {
            userId: input.engineer.id,
            actedById: input.actor.id,
            toolkitId: input.toolkitId,
            operationType: input.type,
            timestamp: deps.clock.now(),
            status: input.status ?? c.status,
            matchPercentage: c.match_percentage,
            resultJson,
            modelSha256: recognition.model.sha256,
            originalImageKey: originalKey,
            annotatedImageKey: annotatedKey,
          },
          tx,
        );
        await input.applyCustody(tx, operation);
        return operation;
      });
    } catch (err) {
      await rollbackFiles();
      if (err instanceof AppError) throw err;
      logger.error({ err, toolkitId: input.toolkitId }, 'recording the operation failed');
      throw new ServiceUnavailableError(
        'operation.not_recorded',
        'The operation could not be recorded (database error); nothing was saved. Try again.',
        5,
      );
    }
  }

  async function checkout(input: { actor: Actor; toolkitId: number; engineerId?: number; image: Buffer; confidence?: number }) {
    const kit = await custody.get(input.toolkitId);
    if (!kit) throw new NotFoundError('toolkit.not_found', `Toolkit ${input.toolkitId} does not exist`);
    if (!kit.isActive) throw new ConflictError('toolkit.inactive', `Toolkit «${kit.name}» is deactivated`);
    if (kit.holderId !== null) {
      throw new ConflictError('toolkit.already_checked_out', `Toolkit «${kit.name}» is already checked out`, {
        holder_id: kit.holderId,
        held_since: kit.heldSince?.toISOString() ?? null,
      });
    }
    const engineer = await resolveEngineer(input.actor, input.engineerId, null);
    const recognition = await deps.recognition.recognize({ image: input.image, toolkitId: input.toolkitId, confidence: input.confidence, requireActiveKit: true });
    const operation = await record({
      actor: input.actor,
      engineer,
      toolkitId: input.toolkitId,
      type: 'checkout',
      image: input.image,
      recognition,
      // What was already missing at checkout is on record: the engineer is not blamed for it later.
      extraResult: { missing_at_checkout: recognition.comparison.missing },
      applyCustody: async (tx, op) => {
        const claimed = await custody.claim(input.toolkitId, engineer.id, op.id, op.timestamp, tx);
        if (!claimed) throw new ConflictError('toolkit.already_checked_out', `Toolkit «${kit.name}» was checked out meanwhile`);
      },
    });
    logger.info({ operationId: operation.id, toolkitId: input.toolkitId, engineerId: engineer.id, status: operation.status }, 'kit checked out');
    return presentOperation(operation);
  }

  async function checkin(input: { actor: Actor; toolkitId: number; engineerId?: number; image: Buffer; confidence?: number }) {
    const kit = await custody.get(input.toolkitId);
    if (!kit) throw new NotFoundError('toolkit.not_found', `Toolkit ${input.toolkitId} does not exist`);
    if (kit.holderId === null) throw new ConflictError('toolkit.not_checked_out', `Toolkit «${kit.name}» is not checked out`);
    if (input.actor.role === 'engineer' && kit.holderId !== input.actor.id) {
      throw new ConflictError('toolkit.held_by_other', `Toolkit «${kit.name}» is held by another engineer`);
    }
    if (input.engineerId !== undefined && input.engineerId !== kit.holderId) {
      throw new ConflictError('toolkit.held_by_other', `Toolkit «${kit.name}» is held by user ${kit.holderId}, not ${input.engineerId}`);
    }
    const engineer = await resolveEngineer(input.actor, input.engineerId, kit.holderId, { mayBeInactive: true });
    const checkoutOp = kit.checkoutOperationId !== null ? await operations.findById(kit.checkoutOperationId) : null;
    // Recognise against the kit even if it was deactivated while out: it must still come back.
    const recognition = await deps.recognition.recognize({ image: input.image, toolkitId: input.toolkitId, confidence: input.confidence });
    const lost = lostSinceCheckout(await countsAtCheckout(checkoutOp), recognition.comparison.counts);
    // A tool that left with the kit and did not come back is a discrepancy even when the kit's
    // list is complete again (a tool the list does not hold, seen at checkout): it may be in an aircraft.
    const status = recognition.comparison.status === 'success' && lost.length > 0 ? 'discrepancy' : recognition.comparison.status;

    const operation = await record({
      actor: input.actor,
      engineer,
      toolkitId: input.toolkitId,
      type: 'checkin',
      image: input.image,
      recognition,
      extraResult: { lost_since_checkout: lost, checkout_operation_id: checkoutOp?.id ?? null },
      status,
      applyCustody: async (tx, op) => {
        const ok =
          op.status === 'success'
            ? await custody.release(input.toolkitId, engineer.id, tx)
            : // Incomplete or uncertain: the kit stays attributed to the engineer until a storekeeper resolves it.
              await custody.flag(input.toolkitId, engineer.id, op.id, tx);
        if (!ok) throw new ConflictError('toolkit.held_by_other', `Toolkit «${kit.name}» changed hands meanwhile`);
      },
    });
    logger.info(
      { operationId: operation.id, toolkitId: input.toolkitId, engineerId: engineer.id, status: operation.status, lost: lost.map((l) => l.class_key) },
      'kit checked in',
    );
    return presentOperation(operation);
  }

  async function resolve(input: {
    reviewer: Actor;
    operationId: number;
    decision: ReviewDecision;
    note?: string;
    correctedCounts?: Record<string, number>;
  }) {
    const op = await operations.findById(input.operationId);
    if (!op) throw new NotFoundError('operation.not_found', `Operation ${input.operationId} does not exist`);
    if (op.status === 'success') throw new ConflictError('operation.not_reviewable', 'Successful operations need no review');
    if (op.resolvedAt !== null) throw new ConflictError('operation.already_resolved', `Operation ${op.id} was already resolved`);
    // Four eyes: whoever answers for the kit does not clear their own discrepancy.
    if (op.userId === input.reviewer.id) {
      throw new ForbiddenError('operation.own_review', 'An operation on a kit you hold is resolved by another storekeeper or an admin');
    }

    const kit = await custody.get(op.toolkitId);
    const before = {
      status: op.status,
      resolution: null,
      counts: op.resultJson.counts,
      missing_tools: op.resultJson.missing_tools,
      kit: { holder_id: kit?.holderId ?? null, flagged_operation_id: kit?.flaggedOperationId ?? null },
    };
    let corrected: KitComparison | null = null;
    if (input.correctedCounts) {
      const kitExpectation = await deps.recognition.loadKit(op.toolkitId, { requireActive: false });
      corrected = compareKit(
        kitExpectation.items,
        // Corrections override the detected counts of the classes they name; the rest stand.
        Object.entries({ ...(op.resultJson.counts as Record<string, number>), ...input.correctedCounts }).flatMap(([classKey, n]) => Array.from({ length: n }, () => ({ classKey, confidence: 1, uncertain: false }))),
        { matchThreshold: deps.matchThreshold, toolNames: TOOL_NAMES },
      );
    }
    const at = deps.clock.now();
    const result = await deps.transaction(async (tx) => {
      const resolved = await operations.resolve(op.id, { decision: input.decision, note: input.note ?? null, reviewerId: input.reviewer.id, at }, tx);
      if (!resolved) throw new ConflictError('operation.already_resolved', `Operation ${op.id} was already resolved`);
      // A checkin flagged by this operation is closed by the review: the kit is back in the tool room,
      // and what was confirmed missing stays on record in the review.
      // Only while this operation still flags the kit: it may have come back and gone out again meanwhile.
      const released = op.operationType === 'checkin' && (await custody.releaseFlagged(op.toolkitId, op.id, tx));
      const after = {
        status: op.status,
        resolution: input.decision,
        note: input.note ?? null,
        ...(corrected ? { corrected_counts: input.correctedCounts, corrected_comparison: corrected } : {}),
        kit: { holder_id: released ? null : (kit?.holderId ?? null), flagged_operation_id: released ? null : (kit?.flaggedOperationId ?? null) },
      };
      const audit = await operations.insertAudit(
        { operationId: op.id, reviewerId: input.reviewer.id, decision: input.decision, note: input.note ?? null, before, after },
        tx,
      );
      return { operation: resolved, audit };
    });
    logger.info({ operationId: op.id, reviewerId: input.reviewer.id, decision: input.decision }, 'operation resolved');
    return {
      operation: presentOperation(result.operation),
      audit: {
        id: result.audit.id,
        reviewer_id: result.audit.reviewerId,
        decision: result.audit.decision,
        note: result.audit.note,
        before: result.audit.before,
        after: result.audit.after,
        created_at: result.audit.createdAt.toISOString(),
      },
    };
  }

  async function history(actor: Actor, filter: HistoryFilter, page: { skip: number; limit: number }) {
    // Engineers see only their own operations, whatever filter they send.
    const effective = actor.role === 'engineer' ? { ...filter, userId: actor.id } : filter;
    const { rows, total } = await operations.history(effective, page);
    return { items: rows.map(presentOperation), total };
  }

  async function get(actor: Actor, id: number) {
    const op = await operations.findById(id);
    if (!op || (actor.role === 'engineer' && op.userId !== actor.id)) {
      throw new NotFoundError('operation.not_found', `Operation ${id} does not exist`);
    }
    const audit = await operations.auditOf(id);
    return { ...presentOperation(op), audit: audit.map((a) => ({ id: a.id, reviewer_id: a.reviewerId, decision: a.decision, note: a.note, before: a.before, after: a.after, created_at: a.createdAt.toISOString() })) };
  }

  async function reviews(page: { skip: number; limit: number }) {
    return (await operations.openReviews(page)).map(presentOperation);
  }

  return { checkout, checkin, resolve, history, get, reviews };
}

export type OperationService = ReturnType<typeof createOperationService>;

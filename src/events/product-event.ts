import { z } from 'zod';

export const eventTypes = ['ItemCreated', 'ItemUpdated', 'EntityCreated', 'EntityUpdated', 'StageChanged'] as const;
export type EventType = (typeof eventTypes)[number];

const guid = z.uuid().transform((v) => v.toLowerCase());

/** A product event (contract): arrives on queue `workpoint-events` or through `POST /api/events`. */
export const productEventSchema = z.object({
  id: z.string().min(1).max(128),
  type: z.enum(eventTypes),
  tenantId: guid,
  occurredAt: z.iso.datetime({ offset: true }),
  subject: z.object({
    siteId: z.string().min(1).max(512),
    listId: z.string().min(1).max(256),
    itemId: z.union([z.string().min(1).max(128), z.number().int().nonnegative().transform(String)]),
  }),
  data: z.record(z.string(), z.unknown()).default({}),
  /**
   * Set when the change behind the event was made by a step of a run (loop guard): the causing run,
   * its process and how many runs deep the chain is.
   */
  causedBy: z
    .object({ runId: z.string().min(1).max(64), processId: z.string().min(1).max(64), depth: z.number().int().min(1).max(1000) })
    .optional(),
});

export type ProductEvent = z.infer<typeof productEventSchema>;

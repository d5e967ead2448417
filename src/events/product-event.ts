import { z } from 'zod';
import { eventTypes } from '../processes/event-types';

export { eventTypes, type EventType } from '../processes/event-types';

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

/**
 * The largest event, in characters of its JSON (UTF-16 code units, what JavaScript's `length` counts). A run stores
 * its event in one Azure Tables string property, which holds at most 64 KiB of UTF-16, i.e. 32K characters
 * (learn.microsoft.com/rest/api/storageservices/understanding-the-table-service-data-model, "Property types");
 * 32,000 keeps a margin under it. As UTF-8 on Service Bus that is at most 96,000 bytes, well under Standard's 256 KB.
 */
export const maxEventChars = 32_000;

/** Why an event is too large to store, naming the limit; undefined when it fits. */
export function eventSizeProblem(event: ProductEvent): string | undefined {
  const chars = JSON.stringify(event).length;
  if (chars <= maxEventChars) return undefined;
  return `The event is ${chars} characters of JSON; at most ${maxEventChars} fit in a run record (Azure Tables holds 32K characters per property). Send less in "data".`;
}

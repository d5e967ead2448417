import { z } from 'zod';
import { boundedNesting, nestsDeeperThan } from '../shared/json-depth';
import { eventTypes } from '../processes/event-types';

export { eventTypes, type EventType } from '../processes/event-types';

const guid = z.uuid().transform((v) => v.toLowerCase());

/**
 * Ids taken from callers that reach logs, message ids and headers: letters, digits and `._:-` only, so no id can
 * carry a line break (a forged log line), a quote (OData) or a slash (a path). GUIDs and the product's ids fit.
 */
export const safeIdPattern = /^[A-Za-z0-9._:-]+$/;
export const safeId = (max: number) => z.string().min(1).max(max).regex(safeIdPattern, 'may contain only letters, digits and . _ : -');

/** How far ahead of this app's clock an event's time may be: clock skew between the product and Azure. */
export const maxOccurredAtSkewMs = 5 * 60_000;
/** No product event happened before this: earlier times are wrong clocks or forged. */
export const earliestOccurredAt = Date.UTC(2000, 0, 1);

/**
 * Why an event's `occurredAt` is not plausible at `now`, or undefined. It is data (shown, used in templates and
 * conditions), never the order of runs (that is the time the event was received), but a time in the year 2300 or
 * 1969 is a broken or forged clock, refused so that it never reaches a run.
 */
export function occurredAtProblem(occurredAt: string, now: Date): string | undefined {
  const at = Date.parse(occurredAt);
  if (Number.isNaN(at)) return 'is not a date and time';
  if (at < earliestOccurredAt) return 'must be in the year 2000 or later';
  if (at > now.getTime() + maxOccurredAtSkewMs) {
    return `must not be more than ${maxOccurredAtSkewMs / 60_000} minutes ahead of the time it is received (${now.toISOString()}); check the sender's clock`;
  }
  return undefined;
}

/** A product event (contract): arrives on queue `workpoint-events` or through `POST /api/events`. */
export const productEventSchema = z.object({
  id: safeId(128),
  type: z.enum(eventTypes),
  tenantId: guid,
  occurredAt: z.iso.datetime({ offset: true }).superRefine((value, ctx) => {
    const problem = occurredAtProblem(value, new Date());
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  }),
  subject: z.object({
    siteId: z.string().min(1).max(512),
    listId: z.string().min(1).max(256),
    itemId: z.union([z.string().min(1).max(128), z.number().int().nonnegative().transform(String)]),
  }),
  data: z.record(z.string(), z.unknown()).superRefine(boundedNesting).default({}),
  /**
   * Set when the change behind the event was made by a step of a run (loop guard): the causing run,
   * its process and how many runs deep the chain is.
   */
  causedBy: z.object({ runId: safeId(64), processId: safeId(64), depth: z.number().int().min(1).max(1000) }).optional(),
  /** The Entra account (object id) that made the change behind the event: the loop guard by identity (src/runs/loop-guard.ts). */
  actor: z.object({ objectId: guid }).optional(),
});

export type ProductEvent = z.infer<typeof productEventSchema>;

/**
 * Checks and parses a product event: `productEventSchema.safeParse`, with the same answers and the same messages,
 * but the common case costs a few microseconds instead of zod's ~18 (npm run bench, event_matching: zod was the
 * larger part of an event's CPU once matching used an index). A well-formed event is accepted by `quickProductEvent`;
 * anything it does not accept goes to zod, which gives the verdict and the messages.
 */
export function parseProductEvent(input: unknown): z.ZodSafeParseResult<ProductEvent> {
  const quick = quickProductEvent(input);
  return quick ? { success: true, data: quick } : productEventSchema.safeParse(input);
}

// zod's own patterns for z.uuid() and z.iso.datetime({ offset: true }), so both checks accept the same strings.
const uuidPattern = z.regexes.uuid();
const dateTimePattern = z.regexes.datetime({ offset: true });
const knownEventTypes: ReadonlySet<unknown> = new Set(eventTypes);
const eventKeys = new Set(['id', 'type', 'tenantId', 'occurredAt', 'subject', 'data', 'causedBy', 'actor']);
const subjectKeys = new Set(['siteId', 'listId', 'itemId']);
const causedByKeys = new Set(['runId', 'processId', 'depth']);
const actorKeys = new Set(['objectId']);

type Fields = Record<string, unknown>;
/** A JSON object whose keys are all in `keys` and none undefined (zod handles those: stripping, defaults). */
const objectOf = (v: unknown, keys: ReadonlySet<string>): Fields | undefined => {
  if (v === null || typeof v !== 'object' || Object.getPrototypeOf(v) !== Object.prototype) return undefined;
  for (const key in v) if (!keys.has(key) || (v as Fields)[key] === undefined) return undefined;
  return v as Fields;
};
const text = (v: unknown, max: number): v is string => typeof v === 'string' && v.length >= 1 && v.length <= max;
const safeIdOf = (v: unknown, max: number): v is string => text(v, max) && safeIdPattern.test(v);
const guidOf = (v: unknown): v is string => typeof v === 'string' && uuidPattern.test(v);

/**
 * The product event `input` is, when it plainly is one (every field present is of its expected type and within its
 * bounds, no unknown fields); undefined for anything else, including events zod would accept after stripping
 * or defaulting. Its output equals zod's for what it accepts (test/events/product-event.unit.test.ts compares them).
 */
export function quickProductEvent(input: unknown): ProductEvent | undefined {
  const e = objectOf(input, eventKeys);
  if (!e) return undefined;
  const { id, type, tenantId, occurredAt, data } = e;
  if (!safeIdOf(id, 128) || !knownEventTypes.has(type) || !guidOf(tenantId)) return undefined;
  if (typeof occurredAt !== 'string' || !dateTimePattern.test(occurredAt)) return undefined;
  // occurredAtProblem's bounds without building its message's Date (NaN fails both comparisons).
  const at = Date.parse(occurredAt);
  if (!(at >= earliestOccurredAt && at <= Date.now() + maxOccurredAtSkewMs)) return undefined;
  const subject = objectOf(e.subject, subjectKeys);
  if (!subject || !text(subject.siteId, 512) || !text(subject.listId, 256)) return undefined;
  const itemId = subject.itemId;
  if (!text(itemId, 128) && !(typeof itemId === 'number' && Number.isSafeInteger(itemId) && itemId >= 0)) return undefined;
  if (data !== undefined) {
    if (data === null || typeof data !== 'object' || Object.getPrototypeOf(data) !== Object.prototype || Object.hasOwn(data, '__proto__'))
      return undefined;
    if (nestsDeeperThan(data)) return undefined;
  }
  let causedBy: ProductEvent['causedBy'];
  if (e.causedBy !== undefined) {
    const c = objectOf(e.causedBy, causedByKeys);
    if (!c || !safeIdOf(c.runId, 64) || !safeIdOf(c.processId, 64)) return undefined;
    if (typeof c.depth !== 'number' || !Number.isSafeInteger(c.depth) || c.depth < 1 || c.depth > 1000) return undefined;
    causedBy = { runId: c.runId, processId: c.processId, depth: c.depth };
  }
  let actor: ProductEvent['actor'];
  if (e.actor !== undefined) {
    const a = objectOf(e.actor, actorKeys);
    if (!a || !guidOf(a.objectId)) return undefined;
    actor = { objectId: a.objectId.toLowerCase() };
  }
  return {
    id,
    type: type as ProductEvent['type'],
    tenantId: tenantId.toLowerCase(),
    occurredAt,
    subject: { siteId: subject.siteId, listId: subject.listId, itemId: String(itemId) },
    data: (data as Fields | undefined) ?? {},
    ...(causedBy ? { causedBy } : {}),
    ...(actor ? { actor } : {}),
  };
}

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

import { z } from 'zod';
import { defineAction, runMarkerHeaders, type ActionInvocation } from './action';
import { graphPath, graphRequest } from './graph-client';

const RESERVED = new Set(['__proto__', 'prototype', 'constructor']);

/** A SharePoint column internal name (e.g. `Stage`, `Due_x0020_Date`, `AssignedToLookupId`). */
export const fieldName = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_]{0,254}$/, 'must be a column internal name (letters, digits, _)')
  .refine((n) => !RESERVED.has(n), 'is a reserved name');

export const fieldValue = z.union([z.string().max(65_536), z.number().finite(), z.boolean(), z.null()]);

/**
 * PATCHes fields of the event's own list item (never another item: the address comes from the event's
 * subject) and returns what Graph echoed for the fields that were set.
 */
export async function patchItemFields(
  invocation: ActionInvocation,
  fields: Record<string, string | number | boolean | null>,
): Promise<Record<string, unknown>> {
  const { siteId, listId, itemId } = invocation.event.subject;
  const response = await graphRequest({
    graphBaseUrl: invocation.graphBaseUrl,
    accessToken: invocation.accessToken,
    method: 'PATCH',
    path: graphPath`/sites/${siteId}/lists/${listId}/items/${itemId}/fields`,
    body: fields,
    headers: runMarkerHeaders(invocation.causedBy),
    idempotencyKey: invocation.idempotencyKey,
    signal: invocation.signal,
    fetch: invocation.fetch,
    onClaimsChallenge: invocation.answerClaimsChallenge,
    policy: invocation.graphPolicy,
    trace: invocation.trace,
    traceIds: invocation.traceIds,
  });
  const echoed = typeof response === 'object' && response !== null ? (response as Record<string, unknown>) : {};
  return Object.fromEntries(Object.keys(fields).map((k) => [k, Object.hasOwn(echoed, k) ? echoed[k] : fields[k]]));
}

export const updateFields = defineAction({
  name: 'updateFields',
  description: "Sets fields of the event's list item.",
  inputs: z.object({
    fields: z
      .record(fieldName, fieldValue)
      .refine((f) => Object.keys(f).length > 0, 'name at least one field')
      .refine((f) => Object.keys(f).length <= 100, 'at most 100 fields'),
  }),
  async execute(invocation, { fields }) {
    const set = await patchItemFields(invocation, fields);
    return {
      summary: `Set ${Object.keys(fields).join(', ')} on item ${invocation.event.subject.itemId}`,
      output: { itemId: invocation.event.subject.itemId, fields: set },
    };
  },
});

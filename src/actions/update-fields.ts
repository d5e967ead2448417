import { z } from 'zod';
import { defineAction } from './action';

const RESERVED = new Set(['__proto__', 'prototype', 'constructor']);

/** A SharePoint column internal name (e.g. `Stage`, `Due_x0020_Date`, `AssignedToLookupId`). */
export const fieldName = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_]{0,254}$/, 'must be a column internal name (letters, digits, _)')
  .refine((n) => !RESERVED.has(n), 'is a reserved name');

export const fieldValue = z.union([z.string().max(65_536), z.number().finite(), z.boolean(), z.null()]);

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
    // The event's own item, never another: the address comes from the event's subject.
    const set = await invocation.graph.patchItemFields(invocation.event.subject, fields);
    return {
      summary: `Set ${Object.keys(fields).join(', ')} on item ${invocation.event.subject.itemId}`,
      output: { itemId: invocation.event.subject.itemId, fields: set },
    };
  },
});

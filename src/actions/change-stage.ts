import { z } from 'zod';
import { defineAction } from './action';
import { fieldName } from './update-fields';

export const changeStage = defineAction({
  name: 'changeStage',
  description: "Sets the stage field of the event's list item.",
  inputs: z.object({
    stage: z.string().min(1).max(255),
    /** Internal name of the stage column. */
    field: fieldName.default('Stage'),
  }),
  async execute(invocation, { stage, field }) {
    const fields = await invocation.graph.patchItemFields(invocation.event.subject, { [field]: stage });
    return {
      summary: `Set ${field} to ${JSON.stringify(stage)} on item ${invocation.event.subject.itemId}`,
      output: { itemId: invocation.event.subject.itemId, fields },
    };
  },
});

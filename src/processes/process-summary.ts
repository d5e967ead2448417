import { z } from 'zod';
import { formFieldSchema, processIdSchema, type PublishedProcess, type StepDefinition } from './process-definition';

/**
 * What a published user process will do and as whom, shown to a user before they start it
 * (`GET /api/processes/{id}/summary`, contract): whoever designs a user process can make its unelevated steps do
 * anything the API's delegated Graph permissions allow, as each user who starts it, so the user sees every step first.
 */
export const processSummarySchema = z.strictObject({
  id: processIdSchema,
  name: z.string(),
  description: z.string().optional(),
  version: z.number().int().min(1),
  /** What the user fills in when starting it. */
  inputs: z.array(formFieldSchema),
  steps: z.array(
    z.strictObject({
      id: z.string(),
      name: z.string().optional(),
      type: z.enum(['action', 'form']),
      action: z.string().optional(),
      /** What the step touches, as the designer wrote it (placeholders left as written), e.g. `PATCH /sites/.../items/...`. */
      target: z.string(),
      /** `you` (the user who starts it) or the display name of the connection it runs as. */
      as: z.string(),
      /** True when the step runs as a connection ("Execute as") rather than as the user. */
      elevated: z.boolean(),
    }),
  ),
});
export type ProcessSummary = z.infer<typeof processSummarySchema>;

const text = (v: unknown): string => (typeof v === 'string' ? v : Array.isArray(v) ? v.map(text).join(', ') : JSON.stringify(v ?? ''));

function targetOf(step: StepDefinition): string {
  const inputs = step.inputs ?? {};
  if (step.type === 'form') return `asks you: ${(step.fields ?? []).map((f) => f.label).join(', ')}`;
  switch (step.action) {
    case 'changeStage':
      return `sets ${text(inputs.field ?? 'Stage')} to ${text(inputs.stage)} on the item you start it on`;
    case 'updateFields':
      return typeof inputs.fields === 'object' && inputs.fields !== null
        ? `sets ${Object.keys(inputs.fields).join(', ')} on the item you start it on`
        : `sets fields of the item you start it on`;
    case 'sendMail':
      return `sends mail to ${text(inputs.to)}`;
    case 'graphRequest':
      return `${text(inputs.method)} ${text(inputs.path)}`;
    default:
      return step.action ?? '';
  }
}

/** The summary of a published process; `connectionName` gives a connection's display name by id. */
export function summarizeProcess(published: PublishedProcess, connectionName: (id: string) => string | undefined): ProcessSummary {
  const { definition } = published;
  return {
    id: definition.id,
    name: definition.name,
    ...(definition.description !== undefined ? { description: definition.description } : {}),
    version: published.version,
    inputs: definition.inputs ?? [],
    steps: definition.steps.map((s) => {
      const executeAs = s.type === 'action' ? s.permissions?.executeAs : undefined;
      return {
        id: s.id,
        ...(s.name !== undefined ? { name: s.name } : {}),
        type: s.type,
        ...(s.action !== undefined ? { action: s.action } : {}),
        target: targetOf(s),
        as: executeAs ? (connectionName(executeAs) ?? 'a connection that no longer exists') : 'you',
        elevated: executeAs !== undefined,
      };
    }),
  };
}

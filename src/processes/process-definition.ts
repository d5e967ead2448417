import { z } from 'zod';
import { boundedNesting } from '../shared/json-depth';
import { eventTypes } from './event-types';

const id = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/, 'use 1-64 letters, digits, "-" or "_"');
const connectionId = z.uuid({ message: 'must be a connection id (GUID)' }).transform((v) => v.toLowerCase());

export const conditionSchema = z.strictObject({
  /** A dotted path into the scope, e.g. `event.data.stage` or `event.subject.listId`. */
  path: z.string().regex(/^event(\.[A-Za-z0-9_$-]+)+$/, 'must be a path under "event", e.g. event.data.stage'),
  op: z.enum(['eq', 'ne', 'in', 'exists']),
  value: z.unknown().superRefine(boundedNesting).optional(),
});
export type Condition = z.infer<typeof conditionSchema>;

const conditions = z.array(conditionSchema).max(20).optional();

/** A field of a form step (contract): what the user fills in before the run goes on. */
export const formFieldSchema = z.strictObject({
  /** The key of the submitted value and of `{{form.<stepId>.<name>}}`. */
  name: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,63}$/, 'use a letter or "_", then up to 63 letters, digits or "_"'),
  label: z.string().trim().min(1).max(200),
  type: z.enum(['text', 'number', 'boolean', 'date', 'choice']),
  required: z.boolean().optional(),
  /** The allowed values of a `choice` field. */
  options: z.array(z.string().min(1).max(200)).min(1).max(100).optional(),
  /** The longest value of a `text` field (at most, and by default, 4000 characters). */
  maxLength: z.number().int().min(1).max(4000).optional(),
});
export type FormField = z.infer<typeof formFieldSchema>;

/**
 * A declared input of a user process (contract): the same shape as a form field. The user fills them in when
 * starting a run (`POST processes/{id}/runs` `inputs`), steps see them as `{{event.data.<name>}}`; anything
 * undeclared or ill-typed is refused, so a user can only ever type what the designer asked for.
 */
export const processInputSchema = formFieldSchema;
export type ProcessInput = FormField;

export const stepSchema = z.strictObject({
  id,
  type: z.enum(['action', 'form']),
  name: z.string().max(200).optional(),
  action: z.string().max(64).optional(),
  inputs: z.record(z.string(), z.unknown()).superRefine(boundedNesting).optional(),
  conditions,
  permissions: z.strictObject({ executeAs: connectionId.optional() }).optional(),
  /** The fields of a form step. */
  fields: z.array(formFieldSchema).max(50).optional(),
});
export type StepDefinition = z.infer<typeof stepSchema>;

export const triggerSchema = z.strictObject({
  event: z.enum(eventTypes),
  disabled: z.boolean().optional(),
  conditions,
  /** Start even when the event's actor is an account this process's steps run as (the loop guard by identity is off). */
  allowSelfTrigger: z.boolean().optional(),
});

export type TriggerDefinition = z.infer<typeof triggerSchema>;

/** A process as saved with `PUT /api/processes/{id}` (contract). */
export const processBodySchema = z.strictObject({
  name: z.string().trim().min(1).max(200),
  kind: z.enum(['system', 'user']),
  description: z.string().max(2000).optional(),
  triggers: z.array(triggerSchema).max(20).optional(),
  runAs: connectionId.optional(),
  /** What a user fills in when starting a user process (declared inputs; none when absent). */
  inputs: z.array(processInputSchema).max(50).optional(),
  steps: z.array(stepSchema).min(1).max(100),
});
export type ProcessBody = z.infer<typeof processBodySchema>;

export const processIdSchema = id;

export interface ProcessDefinition extends ProcessBody {
  id: string;
}

/** A published version of a process: what events are matched against and runs execute. */
export interface PublishedProcess {
  definition: ProcessDefinition;
  version: number;
}

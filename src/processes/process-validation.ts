import type { z } from 'zod';
import type { Connection } from '../connections/connection';
import type { ProcessDefinition } from './process-definition';

export interface ValidationError {
  path: string;
  message: string;
}

/** What validation needs to know about actions: their input schemas. */
export type ActionCatalog = ReadonlyMap<string, { inputs: z.ZodType }>;

export const formStepCannotRunAsConnection = 'only action steps can be executed using a connection';

/**
 * The rules a process must satisfy, as plain data checks. `connections` is given on publish only:
 * a draft may name a connection that is still being set up, a published process may not.
 */
export function validateProcess(
  process: ProcessDefinition,
  actions: ActionCatalog,
  connections?: readonly Connection[],
): ValidationError[] {
  const errors: ValidationError[] = [];
  const seen = new Set<string>();
  process.steps.forEach((step, i) => {
    const at = `steps[${i}]`;
    if (seen.has(step.id)) errors.push({ path: `${at}.id`, message: `duplicate step id "${step.id}"` });
    seen.add(step.id);
    if (step.type === 'form') {
      if (step.permissions?.executeAs) errors.push({ path: `${at}.permissions.executeAs`, message: formStepCannotRunAsConnection });
      if (process.kind === 'system') {
        errors.push({ path: `${at}.type`, message: 'system processes run without a user, so they cannot contain form steps' });
      }
      return;
    }
    if (!step.action) return void errors.push({ path: `${at}.action`, message: 'an action step needs an action' });
    const action = actions.get(step.action);
    if (!action) {
      return void errors.push({ path: `${at}.action`, message: `unknown action "${step.action}"; known: ${[...actions.keys()].join(', ')}` });
    }
    for (const issue of inputIssues(action.inputs, step.inputs ?? {})) {
      errors.push({ path: [`${at}.inputs`, ...issue.path].join('.'), message: issue.message });
    }
  });
  if (process.kind === 'system' && !(process.triggers ?? []).some((t) => !t.disabled)) {
    errors.push({ path: 'triggers', message: 'a system process needs at least one enabled trigger to ever run' });
  }
  if (connections) {
    const check = (connectionId: string | undefined, path: string) => {
      if (!connectionId) return;
      const c = connections.find((x) => x.id === connectionId);
      if (!c) errors.push({ path, message: `connection ${connectionId} does not exist in this tenant` });
      else if (c.status !== 'active') errors.push({ path, message: `connection "${c.displayName}" needs re-authorization` });
    };
    check(process.runAs, 'runAs');
    process.steps.forEach((s, i) => check(s.permissions?.executeAs, `steps[${i}].permissions.executeAs`));
  }
  return errors;
}

/**
 * Input problems that still matter once templates are rendered: a `{{...}}` string may become a
 * number or list at run time, so only its presence is checked here.
 */
function inputIssues(schema: z.ZodType, inputs: Record<string, unknown>) {
  const parsed = schema.safeParse(inputs);
  if (parsed.success) return [];
  return parsed.error.issues.filter((issue) => {
    let value: unknown = inputs;
    for (const key of issue.path) value = (value as Record<PropertyKey, unknown> | undefined)?.[key as PropertyKey];
    return !(typeof value === 'string' && value.includes('{{'));
  });
}

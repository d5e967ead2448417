import { analyseElevation } from './elevation';
import type { FormField, ProcessDefinition } from './process-definition';

export interface ValidationError {
  path: string;
  message: string;
}

/** What validation needs to know about actions. */
export interface ActionCatalog {
  names(): readonly string[];
  /** Problems with a step's inputs (values that are still `{{...}}` templates are checked at run time). */
  validateInputs(name: string, inputs: unknown): { path: string; message: string }[];
}

/**
 * What validation needs to know about a tenant's connection. Given as input (the connections module sits above
 * processes and computes its own usage from process definitions), so processes never import connections.
 */
export interface KnownConnection {
  id: string;
  displayName: string;
  /** Only `active` connections may be named by a published process. */
  status: string;
}

export const formStepCannotRunAsConnection = 'only action steps can be executed using a connection';

export const userProcessRunAsMessage =
  'a user process runs as the user who starts it; give the steps that need a connection permissions.executeAs instead';

/**
 * Problems of a form step's fields (or a user process's declared inputs, which may be none): at least one, unique
 * names, options exactly for choice fields, a maximum length only for text.
 */
export function formFieldProblems(fields: readonly FormField[], at: string, atLeastOne = true): ValidationError[] {
  const errors: ValidationError[] = [];
  if (atLeastOne && fields.length === 0) errors.push({ path: at, message: 'a form step needs at least one field' });
  const names = new Set<string>();
  fields.forEach((f, i) => {
    if (names.has(f.name)) errors.push({ path: `${at}[${i}].name`, message: `duplicate field name "${f.name}"` });
    names.add(f.name);
    if (f.type === 'choice' && !f.options) errors.push({ path: `${at}[${i}].options`, message: 'a choice field needs options' });
    if (f.type !== 'choice' && f.options) errors.push({ path: `${at}[${i}].options`, message: 'only choice fields have options' });
    if (f.type !== 'text' && f.maxLength !== undefined)
      errors.push({ path: `${at}[${i}].maxLength`, message: 'only text fields have a maximum length' });
    if (f.options && new Set(f.options).size !== f.options.length) {
      errors.push({ path: `${at}[${i}].options`, message: 'options must be different from each other' });
    }
  });
  return errors;
}

/**
 * The rules a process must satisfy, as plain data checks. `connections` is given on publish only:
 * a draft may name a connection that is still being set up, a published process may not.
 */
export function validateProcess(
  process: ProcessDefinition,
  actions: ActionCatalog,
  connections?: readonly KnownConnection[],
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
      if (step.action !== undefined) errors.push({ path: `${at}.action`, message: 'a form step has fields, not an action' });
      errors.push(...formFieldProblems(step.fields ?? [], `${at}.fields`));
      return;
    }
    if (step.fields !== undefined) errors.push({ path: `${at}.fields`, message: 'only form steps have fields' });
    if (!step.action) return void errors.push({ path: `${at}.action`, message: 'an action step needs an action' });
    if (!actions.names().includes(step.action)) {
      return void errors.push({ path: `${at}.action`, message: `unknown action "${step.action}"; known: ${actions.names().join(', ')}` });
    }
    for (const problem of actions.validateInputs(step.action, step.inputs ?? {})) {
      errors.push({ path: problem.path ? `${at}.inputs.${problem.path}` : `${at}.inputs`, message: problem.message });
    }
  });
  if (process.inputs !== undefined) {
    if (process.kind === 'system')
      errors.push({ path: 'inputs', message: 'only user processes have inputs: a system process gets its values from the event' });
    else errors.push(...formFieldProblems(process.inputs, 'inputs', false));
  }
  // What a user types may fill values of an elevated step but never address it (elevation.ts).
  for (const r of analyseElevation(process).refusals) errors.push({ path: r.path, message: r.message });
  if (process.kind === 'user' && process.runAs) {
    // Its unelevated steps run as the user who starts it; only `executeAs` elevates, step by step.
    errors.push({ path: 'runAs', message: userProcessRunAsMessage });
  }
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

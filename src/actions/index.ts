import type { ActionDefinition } from './action';
import { changeStage } from './change-stage';
import { resolveGraphUrl } from './graph-client';
import { graphRequestAction } from './graph-request';
import { sendMail } from './send-mail';
import { containsTemplate, templateProblems, type TemplateProblem } from './templates';
import { updateFields } from './update-fields';

export * from './action';
export { renderActionInputs, renderInputs, templatePaths, templateProblems, TemplateError, type TemplateProblem } from './templates';
export { graphRequest, resolveGraphUrl, clientRequestIdFor, defaultGraphRetryPolicy, type GraphRetryPolicy } from './graph-client';

// Each action's inputs have their own type; the registry hands them validated inputs of that type (see validateActionInputs).
const all = [changeStage, updateFields, sendMail, graphRequestAction];

export const actionRegistry: ReadonlyMap<string, ActionDefinition> = new Map(all.map((a) => [a.name, a as ActionDefinition]));

export const actionNames = (): string[] => [...actionRegistry.keys()];

export function getAction(name: string): ActionDefinition | undefined {
  return actionRegistry.get(name);
}

/** Where a `contentType` in a Graph request body is (or contains) a placeholder. */
function placeholderContentTypes(value: unknown, at: string, depth: number): string[] {
  if (depth > 32 || typeof value !== 'object' || value === null) return [];
  return Object.entries(value).flatMap(([k, v]) => {
    const path = Array.isArray(value) ? `${at}[${k}]` : `${at}.${k}`;
    return k === 'contentType' && containsTemplate(v) ? [path] : placeholderContentTypes(v, path, depth + 1);
  });
}

function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let v = root;
  for (const key of path) {
    if (typeof v !== 'object' || v === null || !Object.hasOwn(v, key)) return undefined;
    v = (v as Record<PropertyKey, unknown>)[key];
  }
  return v;
}

const formatPath = (path: readonly PropertyKey[]) =>
  path.reduce<string>((acc, k) => (typeof k === 'number' ? `${acc}[${k}]` : acc ? `${acc}.${String(k)}` : String(k)), '');

/**
 * Checks a step's inputs before any event exists (process save and publish): the action exists, the
 * placeholders are well-formed paths of the event, and the inputs fit the action's schema wherever
 * they do not depend on a placeholder (those are checked again, rendered, when the step runs).
 * Paths are relative to the step's `inputs`.
 */
export function validateActionInputs(name: string, inputs: unknown): TemplateProblem[] {
  const action = getAction(name);
  if (!action) return [{ path: '', message: `unknown action ${JSON.stringify(name)}; known: ${actionNames().join(', ')}` }];
  const problems = templateProblems(inputs ?? {});
  const parsed = action.inputs.safeParse(inputs ?? {});
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      if (containsTemplate(valueAt(inputs, issue.path))) continue;
      problems.push({ path: formatPath(issue.path), message: issue.message });
    }
  }
  if (name === graphRequestAction.name) {
    const path = valueAt(inputs, ['path']);
    if (typeof path === 'string') {
      try {
        // The template's own text must be a valid path: a placeholder only ever fills (part of) a segment or a query value.
        resolveGraphUrl('https://graph.microsoft.com/v1.0', path.replace(/\{\{[^{}]*\}\}/g, 'x'));
      } catch (e) {
        problems.push({ path: 'path', message: (e as Error).message });
      }
    }
  }
  if (name === graphRequestAction.name) {
    for (const at of placeholderContentTypes(valueAt(inputs, ['body']), 'body', 0)) {
      problems.push({ path: at, message: 'cannot be a placeholder: it decides whether values beside it are escaped as HTML' });
    }
  }
  if (name === sendMail.name && containsTemplate(valueAt(inputs, ['contentType']))) {
    problems.push({
      path: 'contentType',
      message: 'cannot be a placeholder: it decides whether event values in the body are escaped as HTML',
    });
  }
  return problems;
}

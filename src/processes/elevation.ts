/**
 * Elevation analysis of a user process: which steps run as a connection ("Execute as", `permissions.executeAs`) and
 * which values the user types (declared inputs `{{event.data.<name>}}`, form values `{{form.<step>.<field>}}`) reach
 * them, and where. An elevated step does only what its designer wrote: a user-typed value may fill a value (a
 * comment's text) but not what addresses or selects (the Graph path before `?`, the method, which fields are
 * written, mail recipients), unless it is a `choice` whose options the designer fixed (checked at submit).
 *
 * Pure data in, data out (no I/O, no Node modules): the server refuses a save or publish with its refusals, and the
 * page imports the same function to show the analysis next to Publish.
 */
import type { FormField, ProcessBody, StepDefinition } from './process-definition';

/** Where a placeholder lands in a step's inputs: `address` decides what is touched, `value` only what is written. */
export type PlaceholderRole = 'address' | 'value';

/** One placeholder of a user-typed value in a step. */
export interface UserValueUse {
  /** The placeholder as written, e.g. `{{event.data.list}}`. */
  placeholder: string;
  /** `input`: a declared input of the process; `form`: a value of a form step. */
  source: 'input' | 'form';
  /** The input's name, or `<formStepId>.<field>`. */
  name: string;
  /** Where in the step's inputs, e.g. `path` or `fields.Comment`. */
  at: string;
  role: PlaceholderRole;
  /** The value is one of options the designer fixed (a declared `choice`). */
  fixedChoice: boolean;
  /** False when this use makes the process refused (an elevated step addressed by a free value). */
  allowed: boolean;
}

export interface StepElevation {
  stepIndex: number;
  stepId: string;
  /** Runs as a connection rather than as the user. */
  elevated: boolean;
  executeAs?: string;
  /** User-typed values this step takes. */
  userValues: UserValueUse[];
}

export interface ElevationRefusal {
  /** As in every 422: where in the process body, e.g. `steps[2].inputs.path`. */
  path: string;
  message: string;
  stepId: string;
  /** The input (or `<formStepId>.<field>`) and the placeholder refused. */
  input: string;
  placeholder: string;
}

export interface ElevationReport {
  steps: StepElevation[];
  refusals: ElevationRefusal[];
}

type Analysed = Pick<ProcessBody, 'kind' | 'steps'> & { inputs?: readonly FormField[] | undefined };

const PLACEHOLDER = /\{\{([^{}]*)\}\}/g;
const WHOLE = /^\{\{[^{}]*\}\}$/;

const joinPath = (base: string, key: string | number) =>
  typeof key === 'number'
    ? `${base}[${key}]`
    : /^[A-Za-z_$][\w$]*$/.test(key)
      ? base
        ? `${base}.${key}`
        : key
      : `${base}[${JSON.stringify(key)}]`;

/** Every string of a step's inputs with its location and the keys above it (bounded: deeper values are not walked). */
function strings(
  value: unknown,
  at: string,
  keys: readonly string[],
  out: { text: string; at: string; keys: readonly string[] }[],
  depth = 0,
) {
  if (depth > 32) return;
  if (typeof value === 'string') out.push({ text: value, at, keys });
  else if (Array.isArray(value)) value.forEach((v, i) => strings(v, joinPath(at, i), keys, out, depth + 1));
  else if (typeof value === 'object' && value !== null) {
    for (const [k, v] of Object.entries(value)) strings(v, joinPath(at, k), [...keys, k], out, depth + 1);
  }
}

/**
 * What a placeholder at `at` of `action`'s inputs decides. Known actions by their inputs; an unknown action is treated
 * as addressed by every input (validation refuses it anyway).
 */
function roleOf(action: string | undefined, s: { text: string; at: string; keys: readonly string[] }, offset: number): PlaceholderRole {
  const [top] = s.keys;
  switch (action) {
    case 'changeStage':
      return top === 'field' ? 'address' : 'value';
    case 'updateFields':
      // The whole `fields` object from one placeholder chooses the columns; a column's value is a value.
      return s.keys.length <= 1 ? 'address' : 'value';
    case 'sendMail':
      return top === 'to' ? 'address' : 'value';
    case 'graphRequest':
      if (top === 'method') return 'address';
      if (top === 'path') {
        const query = s.text.indexOf('?');
        return query < 0 || offset < query ? 'address' : 'value';
      }
      if (top === 'body') {
        // The whole body, or a recipient of mail sent through Graph (`toRecipients[].emailAddress.address`).
        if (s.keys.length === 1 && WHOLE.test(s.text)) return 'address';
        if (s.keys.some((k) => /recipients$/i.test(k) || k === 'address')) return 'address';
      }
      return 'value';
    default:
      return 'address';
  }
}

function describeRole(action: string | undefined, at: string): string {
  if (action === 'graphRequest' && at === 'path') return 'the request path before "?"';
  if (action === 'graphRequest' && at === 'method') return 'the request method';
  if (action === 'graphRequest') return 'the request body where it names the whole body or a recipient';
  if (action === 'updateFields') return 'which fields are written';
  if (action === 'changeStage') return 'which field is written';
  if (action === 'sendMail') return 'the recipients';
  return 'what the step addresses';
}

/** Which user-typed value a placeholder expression names, if any. */
function userSource(
  expression: string,
  process: Analysed,
): { source: 'input' | 'form'; name: string; field: FormField | undefined; whole: boolean } | undefined {
  const parts = expression.split('.');
  if (parts[0] === 'event' && parts[1] === 'data' && parts[2] !== undefined) {
    return { source: 'input', name: parts[2], field: process.inputs?.find((f) => f.name === parts[2]), whole: parts.length === 3 };
  }
  if (parts[0] === 'form' && parts[1] !== undefined && parts[2] !== undefined) {
    const form = process.steps.find((s) => s.id === parts[1] && s.type === 'form');
    return {
      source: 'form',
      name: `${parts[1]}.${parts[2]}`,
      field: form?.fields?.find((f) => f.name === parts[2]),
      whole: parts.length === 3,
    };
  }
  return undefined;
}

function analyseStep(step: StepDefinition, stepIndex: number, process: Analysed, refusals: ElevationRefusal[]): StepElevation {
  const executeAs = step.permissions?.executeAs;
  const elevated = step.type === 'action' && executeAs !== undefined;
  const userValues: UserValueUse[] = [];
  const found: { text: string; at: string; keys: readonly string[] }[] = [];
  strings(step.inputs ?? {}, '', [], found);
  for (const s of found) {
    for (const m of s.text.matchAll(PLACEHOLDER)) {
      const expression = m[1]!.trim();
      const source = userSource(expression, process);
      if (!source) continue;
      const role = roleOf(step.action, s, m.index);
      const fixedChoice = source.field?.type === 'choice' && source.whole;
      const allowed = !(elevated && role === 'address' && !fixedChoice);
      const placeholder = `{{${expression}}}`;
      userValues.push({ placeholder, source: source.source, name: source.name, at: s.at, role, fixedChoice, allowed });
      const path = `steps[${stepIndex}].inputs${s.at ? (s.at.startsWith('[') ? s.at : `.${s.at}`) : ''}`;
      if (!allowed) {
        const what = source.source === 'input' ? `the input "${source.name}"` : `the form value "${source.name}"`;
        refusals.push({
          path,
          stepId: step.id,
          input: source.name,
          placeholder,
          message: `step "${step.id}" runs as a connection and may not let ${what} (${placeholder}) decide ${describeRole(step.action, s.keys[0] ?? '')}: a user could steer it to what they cannot reach; make it a choice field with fixed options, or use {{event.subject.*}}`,
        });
      }
      if (source.source === 'input' && !source.field) {
        refusals.push({
          path,
          stepId: step.id,
          input: source.name,
          placeholder,
          message: `${placeholder} names the input "${source.name}", which this process does not declare (declare it under "inputs")`,
        });
      }
    }
  }
  return { stepIndex, stepId: step.id, elevated, ...(elevated ? { executeAs } : {}), userValues };
}

/**
 * The elevation analysis of a process. System processes take no user-typed values (their `event.data` is the
 * product's), so they have no refusals; their steps are still reported as elevated or not.
 */
export function analyseElevation(process: Analysed): ElevationReport {
  const refusals: ElevationRefusal[] = [];
  if (process.kind !== 'user') {
    return {
      steps: process.steps.map((s, i) => ({
        stepIndex: i,
        stepId: s.id,
        elevated: s.type === 'action' && s.permissions?.executeAs !== undefined,
        ...(s.permissions?.executeAs ? { executeAs: s.permissions.executeAs } : {}),
        userValues: [],
      })),
      refusals,
    };
  }
  const steps = process.steps.map((s, i) => analyseStep(s, i, process, refusals));
  return { steps, refusals };
}

/**
 * Step input templates: `{{event.subject.itemId}}`, `{{event.data.Stage}}`, `{{ event.tenantId }}`, and in user
 * processes `{{form.<stepId>.<field>}}` (a value the run's user submitted in an earlier form step).
 * A placeholder is a dotted path looked up in plain data, nothing else: no expressions, no calls, and
 * only own properties of plain objects and array indices, so `__proto__`/`constructor` lead nowhere.
 *
 * - A string that is exactly one placeholder takes the value itself (a number stays a number, an object
 *   stays an object). Inside a longer string, values are written as text: null as '', objects as JSON.
 * - Unknown paths are an error that lists every one of them. There is no escape for a literal `{{...}}`.
 * - Where a value lands can make it code: an action names those inputs (`placeholderContexts`). In a Graph URL
 *   (`graphUrl`) a value is one percent-encoded path segment or one query value (`'` doubled, as OData string
 *   literals escape it); a value that would give the URL structure (another segment, a query, a fragment, Graph's
 *   `:` path addressing, a function call) is refused: the template's own text is the only source of the URL's
 *   structure. In an HTML body (`html`) values are escaped and the template's own markup stays.
 */
import { escapeHtml } from '../shared/escape-html';
import { ActionError, type PlaceholderContexts } from './action';
import { encodePathSegment, pathSegmentProblem } from './graph-client';

export interface TemplateScope {
  event: unknown;
  /** Submitted form values by step id (user runs). */
  form?: unknown;
}

export interface TemplateProblem {
  /** Where in the inputs, e.g. `fields.Stage` (empty for the root). */
  path: string;
  message: string;
}

/** A placeholder that cannot be resolved; permanent, since the same event will never resolve it. */
export class TemplateError extends ActionError {
  constructor(readonly problems: readonly TemplateProblem[]) {
    super('permanent', `Cannot fill in the inputs: ${problems.map((p) => (p.path ? `${p.path}: ${p.message}` : p.message)).join('; ')}`);
    this.name = 'TemplateError';
  }
}

const PLACEHOLDER = /\{\{([^{}]*)\}\}/g;
const WHOLE = /^\{\{([^{}]*)\}\}$/;
const SEGMENT = /^[\p{L}\p{N}_$@-]{1,128}$/u;
const INDEX = /^(0|[1-9]\d{0,8})$/;
const FORBIDDEN = new Set(['__proto__', 'prototype', 'constructor']);
const ROOTS = new Set(['event', 'form']);
const MAX_DEPTH = 32;
/** What an unquoted query value may be: a number, a boolean or a plain word. */
const QUERY_WORD = /^[A-Za-z0-9._-]+$/;

/** Known event fields; anything under `event.data.` is product-defined and checked only when rendering. */
const EVENT_SHAPE: Record<string, true | Record<string, true>> = {
  id: true,
  type: true,
  tenantId: true,
  occurredAt: true,
  subject: { siteId: true, listId: true, itemId: true },
  causedBy: { runId: true, processId: true, depth: true },
};

/** Why an expression is not a valid path, or undefined when it is. */
function syntaxProblem(expression: string): string | undefined {
  if (!expression) return 'empty placeholder';
  const segments = expression.split('.');
  if (!ROOTS.has(segments[0]!)) return `${JSON.stringify(expression)} must start with "event." or "form."`;
  for (const s of segments) {
    if (FORBIDDEN.has(s)) return `${JSON.stringify(expression)} uses the reserved name ${JSON.stringify(s)}`;
    if (!SEGMENT.test(s)) return `${JSON.stringify(expression)} is not a dotted path like event.data.Stage`;
  }
  return undefined;
}

function lookup(scope: TemplateScope, expression: string): { found: true; value: unknown } | { found: false } {
  let current: unknown = scope;
  for (const segment of expression.split('.')) {
    if (Array.isArray(current)) {
      if (!INDEX.test(segment)) return { found: false };
    } else if (!isPlainObject(current)) return { found: false };
    if (!Object.hasOwn(current as object, segment)) return { found: false };
    current = (current as Record<string, unknown>)[segment];
  }
  return current === undefined ? { found: false } : { found: true, value: current };
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== 'object' || v === null) return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

const asText = (v: unknown): string => (v === null ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v));

/**
 * Renders a Graph URL template: placeholders before the template's first `?` fill (part of) one path segment each,
 * after it they are query values. Refused values are reported to `problem` and leave their placeholder in place.
 */
function renderGraphUrl(
  text: string,
  resolve: (raw: string) => { ok: true; value: unknown; expression: string } | { ok: false },
  problem: (message: string) => void,
): string {
  let out = '';
  let last = 0;
  let inQuery = false;
  /** Quotes of the template's own query text so far: odd inside an OData string literal. */
  let quotes = 0;
  for (const m of text.matchAll(PLACEHOLDER)) {
    const fixed = text.slice(last, m.index);
    out += fixed;
    const queryAt = inQuery ? 0 : fixed.indexOf('?');
    if (queryAt >= 0) {
      inQuery = true;
      quotes += (fixed.slice(queryAt).match(/'/g) ?? []).length;
    }
    last = m.index + m[0].length;
    const r = resolve(m[1]!);
    if (!r.ok) {
      out += m[0];
      continue;
    }
    if (r.value !== null && typeof r.value === 'object') {
      problem(`{{${r.expression}}} is ${Array.isArray(r.value) ? 'a list' : 'an object'}; a URL takes text or a number`);
      out += m[0];
      continue;
    }
    const value = asText(r.value);
    if (inQuery) {
      // Graph decodes a query value before it parses `$filter`, so encoding alone does not keep a value a value:
      // outside a quoted literal (`lt {{...}}`) only a number, a boolean or a plain word is accepted (`0 or true`
      // would add a condition); inside one (`eq '{{...}}'`) `'` is doubled as OData escapes it, so it cannot close it.
      if (quotes % 2 === 0 && !QUERY_WORD.test(value)) {
        problem(
          `the value of {{${r.expression}}} is not a number, a boolean or a plain word (letters, digits, ".", "_", "-"); outside quotes in a query it could add conditions: put the placeholder inside a quoted literal ('{{${r.expression}}}')`,
        );
        out += m[0];
        continue;
      }
      out += encodeURIComponent(value.replaceAll("'", "''"));
      continue;
    }
    const why = pathSegmentProblem(value);
    if (why) {
      // The value itself is not repeated: it is event data and may be personal.
      problem(`the value of {{${r.expression}}} ${why}; a value fills one path segment, the template's text gives the path its structure`);
      out += m[0];
      continue;
    }
    out += encodePathSegment(value);
  }
  return out + text.slice(last);
}

const joinPath = (base: string, key: string | number) => (typeof key === 'number' ? `${base}[${key}]` : base ? `${base}.${key}` : key);

/** Walks every string in plain inputs (deep), with its location. */
function walk(value: unknown, at: string, depth: number, visit: (s: string, at: string) => unknown): unknown {
  if (depth > MAX_DEPTH) throw new TemplateError([{ path: at, message: `inputs nest deeper than ${MAX_DEPTH} levels` }]);
  if (typeof value === 'string') return visit(value, at);
  if (Array.isArray(value)) return value.map((v, i) => walk(v, joinPath(at, i), depth + 1, visit));
  if (isPlainObject(value)) {
    // fromEntries defines own properties, so a key named __proto__ stays an ordinary key.
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, walk(v, joinPath(at, k), depth + 1, visit)]));
  }
  return value;
}

/**
 * Replaces every placeholder in the strings of `inputs` (deep), each in the context its input names (plain text
 * unless `contexts` says otherwise); throws TemplateError listing every unknown path and refused value.
 */
export function renderInputs(inputs: unknown, scope: TemplateScope, contexts: PlaceholderContexts = {}): unknown {
  const problems: TemplateProblem[] = [];
  const rendered = walk(inputs, '', 0, (text, at) => {
    const resolve = (raw: string): { ok: true; value: unknown; expression: string } | { ok: false } => {
      const expression = raw.trim();
      const problem = syntaxProblem(expression);
      if (problem) {
        problems.push({ path: at, message: problem });
        return { ok: false };
      }
      const hit = lookup({ event: scope.event, form: scope.form ?? {} }, expression);
      if (!hit.found) {
        problems.push({ path: at, message: `unknown path {{${expression}}}` });
        return { ok: false };
      }
      return { ok: true, value: hit.value, expression };
    };
    const context = Object.hasOwn(contexts, at) ? contexts[at] : undefined;
    if (context === 'graphUrl') return renderGraphUrl(text, resolve, (message) => problems.push({ path: at, message }));
    if (context === 'html') {
      return text.replace(PLACEHOLDER, (match, raw: string) => {
        const r = resolve(raw);
        return r.ok ? escapeHtml(asText(r.value)) : match;
      });
    }
    const whole = WHOLE.exec(text);
    if (whole) {
      const r = resolve(whole[1]!);
      // structuredClone: the rendered inputs must not alias (and let an action mutate) the event.
      return r.ok ? structuredClone(r.value) : text;
    }
    return text.replace(PLACEHOLDER, (match, raw: string) => {
      const r = resolve(raw);
      return r.ok ? asText(r.value) : match;
    });
  });
  if (problems.length > 0) throw new TemplateError(problems);
  return rendered;
}

/** An action's inputs rendered in the contexts the action names for them (see `PlaceholderContext`). */
export function renderActionInputs(
  action: { placeholderContexts?: (inputs: unknown) => PlaceholderContexts },
  inputs: unknown,
  scope: TemplateScope,
): Record<string, unknown> {
  return renderInputs(inputs, scope, action.placeholderContexts?.(inputs) ?? {}) as Record<string, unknown>;
}

function collect(inputs: unknown): { expression: string; at: string }[] {
  const found: { expression: string; at: string }[] = [];
  walk(inputs, '', 0, (text, at) => {
    for (const m of text.matchAll(PLACEHOLDER)) found.push({ expression: m[1]!.trim(), at });
    return text;
  });
  return found;
}

/** Every placeholder expression in `inputs` (trimmed, in order, duplicates kept). */
export function templatePaths(inputs: unknown): string[] {
  return collect(inputs).map((f) => f.expression);
}

/** True when some string in `value` (deep) contains a placeholder. */
export function containsTemplate(value: unknown): boolean {
  try {
    return collect(value).length > 0;
  } catch {
    return false;
  }
}

/**
 * Problems that can be found before any event exists (process save/publish): bad syntax, and paths
 * outside the event's known shape. Paths under `event.data.` are accepted: the product defines them.
 */
export function templateProblems(inputs: unknown): TemplateProblem[] {
  let found: { expression: string; at: string }[];
  try {
    found = collect(inputs);
  } catch (e) {
    return e instanceof TemplateError ? [...e.problems] : [{ path: '', message: 'inputs cannot be read' }];
  }
  const problems: TemplateProblem[] = [];
  for (const { expression, at } of found) {
    const syntax = syntaxProblem(expression);
    if (syntax) {
      problems.push({ path: at, message: syntax });
      continue;
    }
    const [root, first, second, ...rest] = expression.split('.');
    if (root === 'form') {
      // Which steps are forms, and their fields, is the process's business: checked when the step runs.
      if (first === undefined || second === undefined || rest.length > 0) {
        problems.push({ path: at, message: `{{${expression}}} must name a form step and one of its fields: form.<stepId>.<field>` });
      }
      continue;
    }
    if (first === undefined) {
      problems.push({ path: at, message: `{{${expression}}} names the whole event; name a field such as event.subject.itemId` });
      continue;
    }
    if (first === 'data') continue;
    const shape = EVENT_SHAPE[first];
    const known =
      shape === true
        ? second === undefined
        : shape !== undefined && (second === undefined || (shape[second] === true && rest.length === 0));
    if (!known) problems.push({ path: at, message: `unknown path {{${expression}}}` });
  }
  return problems;
}

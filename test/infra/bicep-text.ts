/**
 * Just enough Bicep reading for the drift test: no Bicep compiler is available here, so the .bicep files are
 * read as text. Comments are removed string-aware (URLs inside '...' keep their //), and blocks are cut out by
 * balanced brackets, so formatting changes do not break the test but a renamed symbol does, loudly.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';

export const repoRoot = path.resolve(__dirname, '..', '..');

export function readRepoFile(relativePath: string): string {
  return readFileSync(path.join(repoRoot, relativePath), 'utf8');
}

/** Bicep text without // and /* *\/ comments; string literals are left intact. */
export function stripComments(text: string): string {
  let out = '';
  let i = 0;
  let inString = false;
  while (i < text.length) {
    const c = text[i];
    if (inString) {
      out += c;
      if (c === '\\') {
        out += text[i + 1] ?? '';
        i += 2;
        continue;
      }
      if (c === "'") inString = false;
      i += 1;
    } else if (c === "'") {
      inString = true;
      out += c;
      i += 1;
    } else if (c === '/' && text[i + 1] === '/') {
      while (i < text.length && text[i] !== '\n') i += 1;
    } else if (c === '/' && text[i + 1] === '*') {
      const end = text.indexOf('*/', i + 2);
      i = end < 0 ? text.length : end + 2;
    } else {
      out += c;
      i += 1;
    }
  }
  return out;
}

export function readBicep(relativePath: string): string {
  return stripComments(readRepoFile(relativePath));
}

const closers: Record<string, string> = { '{': '}', '[': ']', '(': ')' };

/** The text between the bracket at `openIndex` and its matching closer (exclusive), skipping strings. */
export function balancedBody(text: string, openIndex: number): string {
  const open = text[openIndex];
  if (!(open in closers)) throw new Error(`expected a bracket at ${openIndex}, found ${JSON.stringify(open)}`);
  const stack: string[] = [];
  let inString = false;
  for (let i = openIndex; i < text.length; i += 1) {
    const c = text[i];
    if (inString) {
      if (c === '\\') i += 1;
      else if (c === "'") inString = false;
      continue;
    }
    if (c === "'") inString = true;
    else if (c in closers) stack.push(closers[c]);
    else if (c === stack[stack.length - 1]) {
      stack.pop();
      if (stack.length === 0) return text.slice(openIndex + 1, i);
    }
  }
  throw new Error(`unbalanced ${open} at ${openIndex}`);
}

/** Body of the first { or [ after the (regex) match of `declaration`, e.g. the `var appSettingValues =` line. */
export function bodyAfter(text: string, declaration: RegExp, what: string): string {
  const m = declaration.exec(text);
  if (!m) throw new Error(`${what}: declaration ${declaration} not found`);
  const from = m.index + m[0].length;
  const open = text.slice(from).search(/[{[]/);
  if (open < 0) throw new Error(`${what}: no { or [ after ${declaration}`);
  return balancedBody(text, from + open);
}

/** Top-level `key: value` pairs of an object body (nested objects/arrays are kept whole as the value). */
export function objectEntries(body: string): Map<string, string> {
  const entries = new Map<string, string>();
  let depth = 0;
  let inString = false;
  let lineStart = 0;
  for (let i = 0; i <= body.length; i += 1) {
    const c = body[i];
    if (i < body.length && inString) {
      if (c === '\\') i += 1;
      else if (c === "'") inString = false;
      continue;
    }
    if (c === "'") inString = true;
    else if (c === '{' || c === '[' || c === '(') depth += 1;
    else if (c === '}' || c === ']' || c === ')') depth -= 1;
    else if ((c === '\n' || i === body.length) && depth === 0) {
      // A complete top-level statement ends at a newline outside brackets.
      const statement = body.slice(lineStart, i).trim();
      lineStart = i + 1;
      if (!statement) continue;
      const kv = /^'?([A-Za-z_][\w-]*)'?\s*:\s*([\s\S]*)$/.exec(statement);
      if (!kv) throw new Error(`cannot read object entry: ${statement}`);
      if (entries.has(kv[1])) throw new Error(`duplicate key ${kv[1]}`);
      entries.set(kv[1], kv[2].trim());
    }
  }
  return entries;
}

/** The top-level `{...}` items of an array body. */
export function arrayObjects(body: string): string[] {
  const items: string[] = [];
  let i = 0;
  while (i < body.length) {
    const open = body.indexOf('{', i);
    if (open < 0) break;
    const inner = balancedBody(body, open);
    items.push(inner);
    i = open + inner.length + 2;
  }
  return items;
}

export interface BicepResource {
  symbol: string;
  type: string;
  existing: boolean;
  /** Text of the declaration body (object, or the for-expression array). */
  body: string;
}

/** Every `resource` declaration of a file. */
export function resources(text: string): BicepResource[] {
  const found: BicepResource[] = [];
  const re = /^\s*resource\s+(\w+)\s+'([^'@]+)@[^']+'\s+(existing\s+)?=\s*(?:if\s*\()?/gm;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    const from = m.index + m[0].length;
    let open = from + text.slice(from).search(/[{[]/);
    // `= if (cond) {`: skip the condition's parentheses.
    if (/if\s*\($/.test(m[0])) {
      const cond = balancedBody(text, from - 1);
      const after = from - 1 + cond.length + 2;
      open = after + text.slice(after).search(/[{[]/);
    }
    found.push({ symbol: m[1], type: m[2], existing: Boolean(m[3]), body: balancedBody(text, open) });
  }
  return found;
}

export interface BicepParam {
  name: string;
  decorators: string;
}

/** Every `param` with the decorators written above it. */
export function params(text: string): BicepParam[] {
  const lines = text.split('\n');
  const out: BicepParam[] = [];
  let decorators = '';
  let depth = 0;
  for (const raw of lines) {
    const line = raw.trim();
    if (depth > 0 || line.startsWith('@')) {
      decorators += `${line}\n`;
      for (const c of line.replace(/'(?:\\.|[^'\\])*'/g, '')) {
        if (c === '(' || c === '[' || c === '{') depth += 1;
        if (c === ')' || c === ']' || c === '}') depth -= 1;
      }
      continue;
    }
    const p = /^param\s+(\w+)\s/.exec(line);
    if (p) out.push({ name: p[1], decorators });
    if (line) decorators = '';
  }
  return out;
}

/** Names of `output` declarations with their value expressions. */
export function outputs(text: string): Map<string, string> {
  const out = new Map<string, string>();
  const re = /^output\s+(\w+)\s+\w+\s*=\s*(.+)$/gm;
  for (let m = re.exec(text); m; m = re.exec(text)) out.set(m[1], m[2]);
  return out;
}

/**
 * `.funcignore` matching as azd does it. azd parses the file with github.com/denormal/go-gitignore (Azure/azure-dev
 * cli/azd/pkg/project/project_utils.go, createDeployableZip; checked at commit ae35809f, 2026-08-21) and asks
 * `Absolute(path, isDir)` for every entry it walks; an excluded directory is not descended into
 * (cli/azd/pkg/rzip/rzip.go). go-gitignore's rules (pattern.go) differ from git's in small ways, which this follows:
 * - the LAST pattern that matches decides (a `!pattern` re-includes), no matter whether a parent was excluded;
 * - `/` at the end: directories only; `/` at the start: anchored at the ignore file's folder;
 * - a pattern with `**` matches path components (`**` = zero or more, unanchored ones get a leading `**`);
 * - a pattern with another `/` matches the last N+1 components of the path (or the whole path when anchored);
 * - any other pattern matches the entry's name (or, anchored, the whole path with `*` crossing `/`).
 * A UTF-8 BOM is stripped first (azd's stripUTF8BOM).
 */
export interface FuncIgnore {
  /** Whether the entry at `relativePath` (with `/`) is left out of the zip. */
  ignores(relativePath: string, isDir: boolean): boolean;
}

interface Pattern {
  negated: boolean;
  anchored: boolean;
  directoryOnly: boolean;
  kind: 'name' | 'path' | 'components';
  glob: string;
  depth: number;
  components: string[];
}

export function parseFuncIgnore(text: string): FuncIgnore {
  const patterns = text
    .replace(/^\uFEFF/, '')
    .split(/\r?\n/)
    .map((line) => line.replace(/(?<!\\)\s+$/, ''))
    .filter((line) => line !== '' && !line.startsWith('#'))
    .map(toPattern)
    .filter((p): p is Pattern => p !== undefined);
  return {
    ignores(relativePath, isDir) {
      for (let i = patterns.length - 1; i >= 0; i--) {
        if (matches(patterns[i], relativePath, isDir)) return !patterns[i].negated;
      }
      return false;
    },
  };
}

function toPattern(line: string): Pattern | undefined {
  let rest = line;
  const negated = rest.startsWith('!');
  if (negated) rest = rest.slice(1);
  const anchored = rest.startsWith('/');
  if (anchored) rest = rest.slice(1);
  const directoryOnly = rest.endsWith('/');
  if (directoryOnly) rest = rest.slice(0, -1);
  if (rest === '') return undefined;
  const components = rest.split('/');
  const kind = components.includes('**') ? 'components' : components.length > 1 ? 'path' : 'name';
  return {
    negated,
    anchored,
    directoryOnly,
    kind,
    glob: rest,
    depth: components.length - 1,
    components: kind === 'components' && !anchored && components[0] !== '**' ? ['**', ...components] : components,
  };
}

function matches(p: Pattern, relativePath: string, isDir: boolean): boolean {
  if (p.directoryOnly && !isDir) return false;
  const parts = relativePath.split('/');
  switch (p.kind) {
    case 'name':
      return p.anchored ? fnmatch(p.glob, relativePath, false) : fnmatch(p.glob, parts[parts.length - 1], false);
    case 'path':
      if (p.anchored) return fnmatch(p.glob, relativePath, true);
      return parts.length > p.depth && fnmatch(p.glob, parts.slice(parts.length - p.depth - 1).join('/'), true);
    case 'components':
      return matchComponents(p.components, parts);
  }
}

function matchComponents(tokens: string[], parts: string[]): boolean {
  if (tokens.length === 0) return parts.length === 0;
  if (tokens[0] === '**') return matchComponents(tokens.slice(1), parts) || (parts.length > 0 && matchComponents(tokens, parts.slice(1)));
  return parts.length > 0 && fnmatch(tokens[0], parts[0], true) && matchComponents(tokens.slice(1), parts.slice(1));
}

/** POSIX fnmatch: `*`, `?`, `[...]`, `\` escapes; with `pathname`, wildcards never match `/`. */
function fnmatch(glob: string, text: string, pathname: boolean): boolean {
  const any = pathname ? '[^/]' : '[\\s\\S]';
  let source = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i];
    if (c === '*') source += `${any}*`;
    else if (c === '?') source += any;
    else if (c === '\\' && i + 1 < glob.length) source += escapeRegExp(glob[++i]);
    else if (c === '[') {
      const end = glob.indexOf(']', i + 2);
      if (end < 0) source += '\\[';
      else {
        const body = glob
          .slice(i + 1, end)
          .replace(/^!/, '^')
          .replace(/\\/g, '\\\\');
        source += `[${body}]`;
        i = end;
      }
    } else source += escapeRegExp(c);
  }
  return new RegExp(`^${source}$`).test(text);
}

const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

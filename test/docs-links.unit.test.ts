/**
 * Every local link in README.md and docs/*.md resolves: the file exists and, for `#anchor`, the target page has a
 * heading GitHub slugs to it (duplicates get -1, -2, …) or an explicit `<a id="…">`. Links to other sites are not
 * followed. Code blocks and inline code are skipped.
 */
import fs from 'node:fs';
import path from 'node:path';

const root = path.resolve(__dirname, '..');

function docFiles(): string[] {
  const docs = fs
    .readdirSync(path.join(root, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => path.join('docs', f));
  return ['README.md', ...docs];
}

/** The text outside fenced code blocks and inline code, with line numbers kept. */
function proseLines(markdown: string): string[] {
  let fence = false;
  return markdown.split('\n').map((line) => {
    if (/^\s*(```|~~~)/.test(line)) {
      fence = !fence;
      return '';
    }
    return fence ? '' : line.replace(/`[^`]*`/g, '``');
  });
}

/** GitHub's heading anchor: lower case, punctuation dropped (but `-` and `_`), spaces to `-`. */
export function githubSlug(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/<[^>]*>/g, '')
    .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
    .replace(/[^\p{L}\p{N}\p{M}\s_-]/gu, '')
    .replace(/\s/g, '-');
}

export function anchorsOf(markdown: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  let fence = false;
  for (const line of markdown.split('\n')) {
    if (/^\s*(```|~~~)/.test(line)) fence = !fence;
    if (fence) continue;
    const heading = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (heading) {
      const base = githubSlug(heading[1].replace(/`/g, ''));
      const n = seen.get(base) ?? 0;
      seen.set(base, n + 1);
      anchors.add(n === 0 ? base : `${base}-${n}`);
    }
    for (const m of line.matchAll(/<a\s+(?:id|name)="([^"]+)"/g)) anchors.add(m[1]);
  }
  return anchors;
}

interface Link {
  file: string;
  line: number;
  target: string;
}

function localLinks(file: string): Link[] {
  const links: Link[] = [];
  proseLines(fs.readFileSync(path.join(root, file), 'utf8')).forEach((text, i) => {
    for (const m of text.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) {
      const target = m[1];
      if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // https:, mailto:, …
      links.push({ file, line: i + 1, target });
    }
  });
  return links;
}

function deadLinks(): string[] {
  const dead: string[] = [];
  const anchorCache = new Map<string, Set<string>>();
  for (const file of docFiles()) {
    for (const link of localLinks(file)) {
      const [rawPath, anchor] = link.target.split('#', 2) as [string, string | undefined];
      const targetFile = rawPath ? path.normalize(path.join(path.dirname(file), decodeURIComponent(rawPath))) : file;
      const where = `${link.file}:${link.line} -> ${link.target}`;
      const abs = path.join(root, targetFile);
      if (!fs.existsSync(abs)) {
        dead.push(`${where} (no file ${targetFile})`);
        continue;
      }
      if (anchor === undefined || anchor === '') continue;
      if (!targetFile.endsWith('.md')) {
        dead.push(`${where} (anchor into a non-markdown file)`);
        continue;
      }
      let anchors = anchorCache.get(targetFile);
      if (!anchors) {
        anchors = anchorsOf(fs.readFileSync(abs, 'utf8'));
        anchorCache.set(targetFile, anchors);
      }
      if (!anchors.has(decodeURIComponent(anchor))) dead.push(`${where} (no anchor #${anchor} in ${targetFile})`);
    }
  }
  return dead;
}

describe('links in README.md and docs/*.md', () => {
  test('slugs headings as GitHub does', () => {
    expect(githubSlug('Authorizing a connection (walkthrough)')).toBe('authorizing-a-connection-walkthrough');
    expect(githubSlug('azd up')).toBe('azd-up');
    expect(githubSlug('host.json choices')).toBe('hostjson-choices');
    expect(githubSlug('Processes, events, actions and runs')).toBe('processes-events-actions-and-runs');
    expect([...anchorsOf('## Settings\n\n### Settings\n<a id="x"></a>\n```\n# not a heading\n```\n')]).toEqual([
      'settings',
      'settings-1',
      'x',
    ]);
  });

  test('README links to the docs pages', () => {
    const targets = localLinks('README.md').map((l) => l.target.split('#')[0]);
    for (const f of docFiles().filter((f) => f !== 'README.md')) expect(targets).toContain(f);
  });

  test('every local link and anchor resolves', () => {
    expect(deadLinks()).toEqual([]);
  });
});

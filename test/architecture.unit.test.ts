/**
 * The dependency order of the code (README, "Layout"), checked on every import of src/ and functions/ as the
 * TypeScript compiler reads it (type-only imports, re-exports, `require` and `import()` included):
 *   (a) a folder imports only from folders below it in `order`;
 *   (b) no import cycle, neither between folders nor between modules;
 *   (c) production code never imports src/local (the local stand-ins sit on top of everything);
 * and src/portal (the browser page, bundled apart) takes only types from the server, and nothing imports it;
 * and the run core (src/runs/core) reaches nothing with I/O: what it loads at run time is pure rules and zod.
 * Each failure names the importing file, the line and the import, so the fix is where the message points.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';

const root = path.resolve(__dirname, '..');

/** Lowest first. `app-context` is src/app-context.ts, the composition root the functions read. */
const order = [
  'config',
  'shared',
  'adapters',
  'tenants',
  'processes',
  'events',
  'tokens',
  'connections',
  'actions',
  'notifications',
  'runs',
  'http',
  'app-context',
  'functions',
  'local',
] as const;

interface Import {
  from: string;
  to: string;
  line: number;
  text: string;
  typeOnly: boolean;
}

const sourceFiles = (dir: string): string[] =>
  readdirSync(path.join(root, dir)).flatMap((name) => {
    const rel = `${dir}/${name}`;
    if (statSync(path.join(root, rel)).isDirectory()) return sourceFiles(rel);
    return /\.(ts|mts|cts)$/.test(name) && !name.endsWith('.d.ts') ? [rel] : [];
  });

/** The repository-relative file a relative specifier names, or undefined for packages and node: builtins. */
function resolve(from: string, specifier: string): string | undefined {
  if (!specifier.startsWith('.')) return undefined;
  const base = path.posix.normalize(path.posix.join(path.posix.dirname(from), specifier));
  const candidates = [base, `${base}.ts`, `${base}/index.ts`, base.replace(/\.js$/, '.ts'), base.replace(/\.mjs$/, '.mts')];
  return (
    candidates.find((c) => {
      try {
        return statSync(path.join(root, c)).isFile();
      } catch {
        return false;
      }
    }) ?? base
  );
}

function importsOf(file: string): Import[] {
  const text = readFileSync(path.join(root, file), 'utf8');
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const found: Import[] = [];
  const add = (node: ts.Node, specifier: ts.Expression | undefined, typeOnly: boolean) => {
    if (!specifier || !ts.isStringLiteralLike(specifier)) return;
    const to = resolve(file, specifier.text);
    if (!to) return;
    const line = source.getLineAndCharacterOfPosition(node.getStart(source)).line + 1;
    found.push({ from: file, to, line, text: node.getText(source).replace(/\s+/g, ' ').slice(0, 160), typeOnly });
  };
  const visit = (node: ts.Node) => {
    if (ts.isImportDeclaration(node)) {
      const clause = node.importClause;
      const typeOnly =
        clause !== undefined &&
        (clause.isTypeOnly ||
          (!clause.name &&
            clause.namedBindings !== undefined &&
            ts.isNamedImports(clause.namedBindings) &&
            clause.namedBindings.elements.length > 0 &&
            clause.namedBindings.elements.every((e) => e.isTypeOnly)));
      add(node, node.moduleSpecifier, typeOnly);
    } else if (ts.isExportDeclaration(node)) {
      add(node, node.moduleSpecifier, node.isTypeOnly);
    } else if (ts.isImportEqualsDeclaration(node) && ts.isExternalModuleReference(node.moduleReference)) {
      add(node, node.moduleReference.expression, node.isTypeOnly);
    } else if (
      ts.isCallExpression(node) &&
      (node.expression.kind === ts.SyntaxKind.ImportKeyword || (ts.isIdentifier(node.expression) && node.expression.text === 'require'))
    ) {
      add(node, node.arguments[0], false);
    } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument)) {
      add(node, node.argument.literal, true);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

/** The layer a file belongs to: `functions`, `app-context`, or the folder under src/. */
function layerOf(file: string): string {
  if (file.startsWith('functions/')) return 'functions';
  const parts = file.split('/');
  if (parts[0] !== 'src') return parts[0];
  if (parts.length === 2) return parts[1].replace(/\.ts$/, '');
  return parts[1];
}

const files = [...sourceFiles('src'), ...sourceFiles('functions')];
const imports = files.flatMap(importsOf);
const show = (i: Import) => `${i.from}:${i.line} ${i.text}`;
const rank = (layer: string) => (order as readonly string[]).indexOf(layer);

/** Strongly connected components with more than one member (Tarjan), i.e. the cycles of a directed graph. */
function cycles(edges: Map<string, Set<string>>): string[][] {
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const out: string[][] = [];
  const connect = (v: string) => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    onStack.add(v);
    for (const w of edges.get(v) ?? []) {
      if (!index.has(w)) {
        connect(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1) out.push(component.sort());
    }
  };
  for (const v of edges.keys()) if (!index.has(v)) connect(v);
  return out;
}

const graph = (pick: (i: Import) => [string, string] | undefined) => {
  const edges = new Map<string, Set<string>>();
  for (const i of imports) {
    const edge = pick(i);
    if (!edge || edge[0] === edge[1]) continue;
    if (!edges.has(edge[0])) edges.set(edge[0], new Set());
    edges.get(edge[0])!.add(edge[1]);
  }
  return edges;
};

/** The imports that make up a cycle, so the message shows where to cut it. */
const importsWithin = (members: string[], key: (file: string) => string) =>
  imports.filter((i) => members.includes(key(i.from)) && members.includes(key(i.to)) && key(i.from) !== key(i.to)).map(show);

describe('dependency order', () => {
  it('finds the imports it checks', () => {
    // A reader that silently found nothing would pass every rule below.
    expect(files.length).toBeGreaterThan(50);
    expect(imports.length).toBeGreaterThan(200);
  });

  it('places every folder of src/ in the order (or is the page, src/portal)', () => {
    const unknown = [...new Set(files.map(layerOf))].filter((l) => l !== 'portal' && rank(l) < 0);
    expect(unknown).toEqual([]);
  });

  it('has each folder import only from folders below it', () => {
    const upward = imports.filter((i) => {
      const [from, to] = [layerOf(i.from), layerOf(i.to)];
      return from !== to && from !== 'portal' && to !== 'portal' && rank(to) > rank(from);
    });
    expect(upward.map((i) => `${show(i)}   (${layerOf(i.from)} must not import ${layerOf(i.to)})`)).toEqual([]);
  });

  it('has no import cycle between folders', () => {
    const found = cycles(graph((i) => [layerOf(i.from), layerOf(i.to)]));
    expect(found.map((members) => ({ cycle: members.join(' <-> '), imports: importsWithin(members, layerOf) }))).toEqual([]);
  });

  it('has no import cycle between modules, type-only imports included', () => {
    const found = cycles(graph((i) => [i.from, i.to]));
    expect(found.map((members) => ({ cycle: members.join(' <-> '), imports: importsWithin(members, (f) => f) }))).toEqual([]);
  });

  it('keeps production code away from the local stand-ins (src/local)', () => {
    const production = imports.filter((i) => layerOf(i.from) !== 'local' && layerOf(i.to) === 'local');
    expect(production.map(show)).toEqual([]);
  });

  /** Server modules the page also runs: pure rules (no I/O) it shows before the server applies them. */
  const runByThePage = new Set(['src/processes/elevation.ts']);

  it('lets the page (src/portal) take only types from the server, and nothing import the page', () => {
    const wrong = imports.filter(
      (i) =>
        (layerOf(i.from) === 'portal' && layerOf(i.to) !== 'portal' && !i.typeOnly && !runByThePage.has(i.to)) ||
        (layerOf(i.from) !== 'portal' && layerOf(i.to) === 'portal'),
    );
    expect(wrong.map(show)).toEqual([]);
  });

  it('keeps the server modules the page runs pure: they load nothing at run time (type-only imports)', () => {
    const loaded = imports.filter((i) => runByThePage.has(i.from) && !i.typeOnly);
    expect(loaded.map(show)).toEqual([]);
    expect([...runByThePage].every((f) => imports.some((i) => i.from === 'src/portal/designer/elevation-panel.ts' && i.to === f))).toBe(
      true,
    );
  });

  it('keeps the run core (src/runs/core) free of I/O: it loads no Node built-in, no package but zod, no adapter, token or connection code', () => {
    // Everything the core loads at run time, followed through every module it reaches; type-only imports load nothing.
    const allowedPackages = new Set(['zod']);
    const withIo = /^src\/(adapters|tokens|connections|actions|tenants|http|local)\//;
    const seen = new Set<string>();
    const wrong: string[] = [];
    const visit = (file: string) => {
      if (seen.has(file)) return;
      seen.add(file);
      const source = ts.createSourceFile(file, readFileSync(path.join(root, file), 'utf8'), ts.ScriptTarget.Latest, true);
      for (const i of importsOf(file).filter((i) => !i.typeOnly)) {
        if (withIo.test(i.to)) wrong.push(`${show(i)}   (reached from the run core)`);
        else visit(i.to);
      }
      for (const statement of source.statements) {
        if (!ts.isImportDeclaration(statement) || !ts.isStringLiteral(statement.moduleSpecifier)) continue;
        const specifier = statement.moduleSpecifier.text;
        const clause = statement.importClause;
        const typeOnly =
          clause?.isTypeOnly ||
          (clause?.namedBindings &&
            ts.isNamedImports(clause.namedBindings) &&
            !clause.name &&
            clause.namedBindings.elements.every((e) => e.isTypeOnly));
        if (specifier.startsWith('.') || typeOnly || allowedPackages.has(specifier)) continue;
        wrong.push(`${file}: import '${specifier}'   (reached from the run core)`);
      }
    };
    const core = files.filter((f) => f.startsWith('src/runs/core/'));
    expect(core.length).toBeGreaterThan(3);
    core.forEach(visit);
    expect(wrong).toEqual([]);
  });
});

/**
 * The deploy package's size as docs/deploy.md states it, generated like README's counts: test/deploy/package.test.ts
 * measures the package azd would upload; `npm run report` (RELIABILITY_REPORT=write) rewrites the line between the
 * markers, and a plain run fails when the stated figures are off by more than a tenth (so ordinary changes do not churn
 * the doc, and a stale figure cannot stay).
 */
import { statSync } from 'node:fs';
import path from 'node:path';
import type { AzdPackage } from './azd-package';

export const PACKAGE_FIGURES_START = '<!-- package-figures:start -->';
export const PACKAGE_FIGURES_END = '<!-- package-figures:end -->';

export interface PackageFigures {
  files: number;
  bytes: number;
  deflatedBytes: number;
  /** index.js: what every cold instance loads. */
  indexBytes: number;
  /** sdk/*.js together: what the app loads on first use. */
  sdkBytes: number;
}

export function measurePackage(pkg: Pick<AzdPackage, 'dir' | 'files' | 'bytes' | 'deflatedBytes'>): PackageFigures {
  const size = (f: string) => statSync(path.join(pkg.dir, f)).size;
  return {
    files: pkg.files.length,
    bytes: pkg.bytes,
    deflatedBytes: pkg.deflatedBytes,
    indexBytes: size('index.js'),
    sdkBytes: pkg.files.filter((f) => f.startsWith('sdk/')).reduce((sum, f) => sum + size(f), 0),
  };
}

const mb = (bytes: number) => (bytes / 1e6).toFixed(2);

export function renderPackageFigures(f: PackageFigures): string {
  return (
    `- **Size** (measured by \`test/deploy/package.test.ts\`, written by \`npm run report\`): ${f.files} files, ${mb(f.bytes)} MB, ` +
    `of which ${mb(f.deflatedBytes)} MB deflated in the zip; \`index.js\` ${Math.round(f.indexBytes / 1000)} KB, ` +
    `\`sdk/*.js\` ${mb(f.sdkBytes)} MB together.`
  );
}

/** The figures a rendered line states, or undefined when the doc has no such line between the markers. */
export function statedPackageFigures(doc: string): PackageFigures | undefined {
  const start = doc.indexOf(PACKAGE_FIGURES_START);
  const end = doc.indexOf(PACKAGE_FIGURES_END);
  if (start < 0 || end < start) return undefined;
  const m = /: (\d+) files, ([\d.]+) MB, of which ([\d.]+) MB deflated in the zip; `index\.js` (\d+) KB, `sdk\/\*\.js` ([\d.]+) MB/.exec(
    doc.slice(start, end),
  );
  if (!m) return undefined;
  return {
    files: Number(m[1]),
    bytes: Number(m[2]) * 1e6,
    deflatedBytes: Number(m[3]) * 1e6,
    indexBytes: Number(m[4]) * 1000,
    sdkBytes: Number(m[5]) * 1e6,
  };
}

/** What differs by more than `tolerance` (a fraction; the file count exactly), named. */
export function staleFigures(stated: PackageFigures, measured: PackageFigures, tolerance = 0.1): string[] {
  return (Object.keys(measured) as (keyof PackageFigures)[]).filter((k) =>
    k === 'files' ? stated[k] !== measured[k] : Math.abs(stated[k] - measured[k]) > tolerance * measured[k],
  );
}

export function rewritePackageFigures(doc: string, line: string): string {
  const start = doc.indexOf(PACKAGE_FIGURES_START);
  const end = doc.indexOf(PACKAGE_FIGURES_END);
  if (start < 0 || end < start) throw new Error(`docs/deploy.md has no ${PACKAGE_FIGURES_START} ... ${PACKAGE_FIGURES_END} block`);
  return `${doc.slice(0, start)}${PACKAGE_FIGURES_START}\n${line}\n${doc.slice(end)}`;
}

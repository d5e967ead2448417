/**
 * The served OpenAPI document passes Redocly CLI's `recommended` ruleset with no error and no warning (servers,
 * info.license, a 4XX answer on every operation, …): the document a client generator or an API portal reads.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { HttpRequest, InvocationContext } from '@azure/functions';
import { functionDefinitions } from '../../functions/definitions';
import type { HttpFunction } from '../../functions/registry';

const run = promisify(execFile);
const redocly = path.resolve(__dirname, '../../node_modules/.bin/redocly');

interface LintReport {
  totals: { errors: number; warnings: number };
  problems: { ruleId: string; message: string; location: { pointer: string }[] }[];
}

async function lint(document: unknown): Promise<LintReport> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'openapi-lint-'));
  try {
    const file = path.join(dir, 'openapi.json');
    await writeFile(file, JSON.stringify(document));
    // Exit code 1 on errors: the report is on stdout either way.
    const out = await run(redocly, ['lint', file, '--extends', 'recommended', '--format', 'json'], { timeout: 60_000 }).catch(
      (e: { stdout?: string }) => ({ stdout: e.stdout ?? '' }),
    );
    return JSON.parse(out.stdout) as LintReport;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const served = async () => {
  const f = functionDefinitions.find((d): d is HttpFunction => d.kind === 'http' && d.name === 'api-openapi')!;
  const res = await f.handler(
    new HttpRequest({ method: 'GET', url: 'http://localhost/api/openapi.json' }),
    new InvocationContext({ invocationId: 'inv', functionName: 'api-openapi' }),
  );
  return (res as { jsonBody: Record<string, unknown> }).jsonBody;
};

jest.setTimeout(60_000);

test('GET /api/openapi.json passes Redocly recommended with no error or warning', async () => {
  const report = await lint(await served());
  expect(report.problems.map((p) => `${p.ruleId} at ${p.location[0]?.pointer}: ${p.message}`)).toEqual([]);
  expect(report.totals).toMatchObject({ errors: 0, warnings: 0 });
});

test('the lint finds what it checks: a document without servers and license, with an operation without 4XX', async () => {
  const doc = structuredClone(await served()) as {
    servers?: unknown;
    info: { license?: unknown };
    paths: Record<string, Record<string, { responses: Record<string, unknown> }>>;
  };
  delete doc.servers;
  delete doc.info.license;
  const op = doc.paths['/api/openapi.json'].get;
  op.responses = Object.fromEntries(Object.entries(op.responses).filter(([status]) => !status.startsWith('4')));
  const rules = (await lint(doc)).problems.map((p) => p.ruleId);
  expect(rules).toEqual(expect.arrayContaining(['no-empty-servers', 'info-license', 'operation-4xx-response']));
});

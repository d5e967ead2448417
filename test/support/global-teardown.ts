/**
 * Jest globalTeardown (jest.config.js). After every run it:
 *  1. searches the logs every test stack captured (test-results/stacks/, written by test-stack.ts on stop) for
 *     token-shaped text and the client secret, and collects the stacks' own exact-value searches (every token,
 *     authorization code and PKCE verifier each stack saw); any hit fails the run;
 *  2. merges the counts the fault and attack tests recorded (test-results/tally/, see tally.ts) into
 *     test-results/reliability.json;
 *  3. only after a full, unfiltered run in which every fault and attack test file recorded all its tests, compares the
 *     README section "Reliability and security" with this run's counts: `npm run report` (RELIABILITY_REPORT=write)
 *     rewrites it, `npm test` fails when its fault and attack counts are stale and never writes a tracked file.
 * Files of other runs (other jest processes, earlier runs) are told apart by the runner id in their names.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Config } from '@jest/types';
import { LOCAL_CLIENT_SECRET } from '../../src/local/identity-provider/directory';
import { repoRoot } from '../../src/local/identity-provider/launch';
import { resultsDir, tallyDir, type TallyFile, type TallyRecord } from './tally';
import type { StackLeakReport } from './test-stack';

export const START_MARKER = '<!-- reliability:start -->';
export const END_MARKER = '<!-- reliability:end -->';
const SECTION_HEADING = '## Reliability and security';
const INSERT_BEFORE = '## Deploy to Azure';
/** Test files whose counts make up the section: all of them must have run and recorded every test. */
const COUNTED_DIRS = ['test/faults', 'test/security'];

/** Text no log line may contain (values are never printed, only the kind). */
const LOG_PATTERNS: { kind: string; re: RegExp }[] = [
  { kind: 'JWT (access or id token)', re: /eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}/ },
  { kind: 'bearer credential', re: /Bearer\s+[A-Za-z0-9._~+/-]{20,}/ },
  { kind: 'client secret', re: new RegExp(LOCAL_CLIENT_SECRET.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')) },
  { kind: 'token protocol field', re: /refresh_token|code_verifier|client_secret|"secret"/i },
];

interface Row {
  kind: TallyRecord['kind'];
  category: string;
  tests: number;
  tried: number;
  handled: number;
  faultsInjected: number;
  lost: number;
}

export interface ReliabilitySummary {
  fullRun: boolean;
  whyNotFull: string[];
  rows: Row[];
  logScan: {
    stacks: number;
    logLines: number;
    responses: number;
    secretsChecked: Record<string, number>;
    leaks: string[];
    harvestErrors: string[];
  };
}

const readJsonFiles = <T>(dir: string, runner: number): T[] => {
  if (!existsSync(dir)) return [];
  const out: T[] = [];
  for (const name of readdirSync(dir)) {
    const file = path.join(dir, name);
    if (name.startsWith(`${runner}-`) && name.endsWith('.json')) {
      out.push(JSON.parse(readFileSync(file, 'utf8')) as T);
    } else if (Date.now() - statSync(file).mtimeMs > 24 * 3600_000) {
      rmSync(file, { force: true }); // leftovers of old runs
    }
  }
  return out;
};

/** Why this run is not the whole suite (empty when it is). */
export function filtersOf(config: Partial<Config.GlobalConfig>): string[] {
  const why: string[] = [];
  const patterns = config.testPathPatterns as unknown as { patterns?: string[] } | string[] | undefined;
  const pathPatterns = Array.isArray(patterns) ? patterns : (patterns?.patterns ?? []);
  if (pathPatterns.length) why.push(`test path patterns ${JSON.stringify(pathPatterns)}`);
  if (config.nonFlagArgs?.length) why.push(`arguments ${JSON.stringify(config.nonFlagArgs)}`);
  if (config.testNamePattern) why.push(`test name pattern ${JSON.stringify(config.testNamePattern)}`);
  for (const flag of ['onlyChanged', 'onlyFailures', 'findRelatedTests', 'lastCommit', 'listTests', 'watch', 'watchAll'] as const) {
    if (config[flag]) why.push(`--${flag}`);
  }
  if (config.changedSince) why.push('--changedSince');
  if (config.shard) why.push('--shard');
  if (config.filter) why.push('--filter');
  return why;
}

export function summarize(tallies: TallyFile[], stacks: StackLeakReport[], why: string[]): ReliabilitySummary {
  const root = repoRoot();
  const expected = COUNTED_DIRS.flatMap((dir) =>
    existsSync(path.join(root, dir))
      ? readdirSync(path.join(root, dir))
          .filter((f) => f.endsWith('.test.ts'))
          .map((f) => `${dir}/${f}`)
      : [],
  );
  const byFile = new Map(tallies.map((t) => [t.testFile.split(path.sep).join('/'), t]));
  const whyNotFull = [...why];
  for (const file of expected) {
    const t = byFile.get(file);
    if (!t) whyNotFull.push(`${file} did not run`);
    else if (!t.complete) whyNotFull.push(`${file}: not every test recorded its counts (a test failed, or passed without recording)`);
  }

  const rows = new Map<string, Row>();
  for (const t of tallies) {
    const testsPerCategory = new Map<string, Set<string>>();
    for (const r of t.records) {
      const key = `${r.kind}\u0000${r.category}`;
      const row = rows.get(key) ?? { kind: r.kind, category: r.category, tests: 0, tried: 0, handled: 0, faultsInjected: 0, lost: 0 };
      row.tried += r.tried;
      row.handled += r.handled;
      row.faultsInjected += r.faultsInjected;
      row.lost += r.lost;
      rows.set(key, row);
      const seen = testsPerCategory.get(key) ?? new Set<string>();
      if (!seen.has(r.test)) row.tests += 1;
      seen.add(r.test);
      testsPerCategory.set(key, seen);
    }
  }

  const logScan: ReliabilitySummary['logScan'] = {
    stacks: stacks.length,
    logLines: 0,
    responses: 0,
    secretsChecked: {},
    leaks: [],
    harvestErrors: [],
  };
  for (const s of stacks) {
    logScan.logLines += s.logLines;
    logScan.responses += s.responses;
    for (const [kind, n] of Object.entries(s.secretsChecked)) logScan.secretsChecked[kind] = (logScan.secretsChecked[kind] ?? 0) + n;
    for (const leak of s.leaks) logScan.leaks.push(`${leak.kind} in ${leak.where} of ${s.testFile}`);
    if (s.harvestError) logScan.harvestErrors.push(`${s.testFile}: ${s.harvestError}`);
    for (const line of s.logs) {
      for (const p of LOG_PATTERNS) if (p.re.test(line)) logScan.leaks.push(`${p.kind} in logs of ${s.testFile}`);
    }
  }
  logScan.leaks = [...new Set(logScan.leaks)];
  const sorted = [...rows.values()].sort((a, b) => (a.kind === b.kind ? 0 : a.kind === 'fault' ? -1 : 1));
  return { fullRun: whyNotFull.length === 0, whyNotFull, rows: sorted, logScan };
}

const n = (v: number) => v.toLocaleString('en-US');
const sum = (rows: Row[], k: keyof Pick<Row, 'tests' | 'tried' | 'handled' | 'faultsInjected' | 'lost'>) =>
  rows.reduce((a, r) => a + r[k], 0);

export function renderSection(s: ReliabilitySummary): string {
  const faults = s.rows.filter((r) => r.kind === 'fault');
  const attacks = s.rows.filter((r) => r.kind === 'attack');
  const faultOps = sum(faults, 'tried');
  const faultOk = sum(faults, 'handled');
  const attacksTried = sum(attacks, 'tried');
  const attacksRefused = sum(attacks, 'handled');
  const lost = sum(s.rows, 'lost');
  const kinds = Object.entries(s.logScan.secretsChecked)
    .filter(([kind]) => kind !== 'client secret')
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([kind, count]) => `${n(count)} ${kind}${count === 1 ? '' : 's'}`)
    .join(', ');
  const lines = [
    '_Generated by `npm run report` from the counts the fault and attack tests record (`test/faults`, `test/security`, merged by',
    '`test/support/global-teardown.ts` after a full run); do not edit by hand._',
    '',
    `- **Faults:** ${n(sum(faults, 'faultsInjected'))} faults injected over ${n(sum(faults, 'tests'))} tests; ${n(faultOk)} of ${n(faultOps)} operations under fault completed correctly; **${n(lost)} items lost or done twice**.`,
    `- **Attacks:** ${n(attacksTried)} tried over ${n(sum(attacks, 'tests'))} tests, **${attacksRefused === attacksTried ? 'all' : n(attacksRefused)} refused**.`,
    `- **Log capture:** the ${n(s.logScan.logLines)} log lines and ${n(s.logScan.responses)} API answers of all ${n(s.logScan.stacks)} local stacks of the run (every test file that starts one) searched for the client secret, for every token, code and verifier the stacks handled (${kinds || 'none'}) and for token-shaped text: **${s.logScan.leaks.length === 0 ? 'none found' : `${s.logScan.leaks.length} found`}**.`,
    '',
    '| Fault | Tests | Operations under fault | Completed correctly | Faults injected | Lost or done twice |',
    '| --- | ---: | ---: | ---: | ---: | ---: |',
    ...faults.map((r) => `| ${r.category} | ${n(r.tests)} | ${n(r.tried)} | ${n(r.handled)} | ${n(r.faultsInjected)} | ${n(r.lost)} |`),
    '',
    '| Attack | Tests | Tried | Refused |',
    '| --- | ---: | ---: | ---: |',
    ...attacks.map((r) => `| ${r.category} | ${n(r.tests)} | ${n(r.tried)} | ${n(r.handled)} |`),
    '',
    'Covered by other suites and not counted here: replayed, unknown and expired callbacks, cancelled sign-in, an account of',
    'another tenant and re-authorization as another account (`test/connections/sign-in-flow.test.ts`); redelivered events and',
    'steps, poison messages and a revoked grant during steps (`test/runs/process-engine.test.ts`); instances refreshing one',
    'connection at once and vault faults inside the broker (`test/tokens/token-broker.test.ts`); the access token confined to',
    'the Graph base — absolute URLs, `//host`, `@`, encoded dots, redirects (`test/actions/graph-client.test.ts`).',
  ];
  return lines.join('\n');
}

/** Replaces the text between the markers, creating the section before "Deploy to Azure" when missing. */
export function rewriteReadme(readme: string, body: string): string {
  const block = `${START_MARKER}\n${body}\n${END_MARKER}`;
  const start = readme.indexOf(START_MARKER);
  const end = readme.indexOf(END_MARKER);
  if (start >= 0 && end > start) return `${readme.slice(0, start)}${block}${readme.slice(end + END_MARKER.length)}`;
  const headingAt = readme.search(new RegExp(`^${SECTION_HEADING}\\s*$`, 'm'));
  if (headingAt >= 0) {
    const afterHeading = readme.indexOf('\n', headingAt) + 1;
    return `${readme.slice(0, afterHeading)}\n${block}\n${readme.slice(afterHeading)}`;
  }
  const section = `${SECTION_HEADING}\n\n${block}\n\n`;
  const deployAt = readme.search(new RegExp(`^${INSERT_BEFORE}\\s*$`, 'm'));
  return deployAt >= 0 ? `${readme.slice(0, deployAt)}${section}${readme.slice(deployAt)}` : `${readme.trimEnd()}\n\n${section}`;
}

/**
 * Why README's counts could not be checked although they should have been, or undefined. A file that did not run
 * (a path, a name, a shard, an ignore pattern...) only skips the check, and says so. But a counted file that ran and
 * started a test that recorded nothing means a failed test (the run fails for it anyway) or a test that passed
 * without recording its counts, which would leave the README unchecked without a word: the run fails and names it.
 */
export function uncheckedReadmeProblem(summary: Pick<ReliabilitySummary, 'whyNotFull'>): string | undefined {
  const incomplete = summary.whyNotFull.filter((why) => why.includes('not every test recorded its counts'));
  if (!incomplete.length) return undefined;
  return (
    `README "Reliability and security" could not be checked: ${incomplete.join('; ')}. Every test in test/faults and ` +
    'test/security records its counts with useTally() (see test/support/tally.ts), also when it passes.'
  );
}

export default async function globalTeardown(globalConfig: Config.GlobalConfig): Promise<void> {
  const runner = process.pid;
  const tallies = readJsonFiles<TallyFile>(tallyDir(), runner);
  const stacks = readJsonFiles<StackLeakReport>(path.join(resultsDir(), 'stacks'), runner);
  const summary = summarize(tallies, stacks, filtersOf(globalConfig));
  mkdirSync(resultsDir(), { recursive: true });
  writeFileSync(path.join(resultsDir(), 'reliability.json'), `${JSON.stringify(summary, null, 2)}\n`);

  if (summary.logScan.leaks.length) {
    throw new Error(
      `Secrets found in captured logs or responses (see test-results/reliability.json):\n  ${summary.logScan.leaks.join('\n  ')}`,
    );
  }
  const unchecked = uncheckedReadmeProblem(summary);
  if (unchecked) throw new Error(unchecked);
  if (!summary.fullRun) {
    if (tallies.length) console.log(`\nREADME "Reliability and security" not rewritten: ${summary.whyNotFull.join('; ')}.`);
    return;
  }
  const readmePath = path.join(repoRoot(), 'README.md');
  const before = readFileSync(readmePath, 'utf8');
  const after = rewriteReadme(before, renderSection(summary));
  if (after === before) return;
  if (process.env.RELIABILITY_REPORT === 'write') {
    const tmp = `${readmePath}.${process.pid}.tmp`;
    writeFileSync(tmp, after);
    renameSync(tmp, readmePath);
    console.log('\nREADME "Reliability and security" rewritten from this run\'s counts.');
    return;
  }
  // `npm test` never rewrites tracked files; it fails when the counts the README states are no longer this run's.
  // The log-capture line counts log lines and answers, which vary with timing, so only `npm run report` refreshes it.
  if (withoutVolatileLines(after) !== withoutVolatileLines(before)) {
    throw new Error(
      'README "Reliability and security" is stale: the fault and attack counts changed. Run `npm run report` and commit README.md.',
    );
  }
}

/** The README without the generated line whose counts depend on timing (log lines, answers). */
export const withoutVolatileLines = (readme: string): string => readme.replace(/^- \*\*Log capture:\*\*.*$/m, '');

/**
 * Counts of the fault and attack tests, written by the tests themselves: each test records what it tried,
 * how much of it was refused (attacks) or completed correctly (faults), how many faults it injected and how
 * many items were lost. `global-teardown.ts` merges the files of one jest run into the README's
 * "Reliability and security" section.
 *
 * A file's tally is complete when every test that started in it recorded at least once: `record` is called
 * at the end of a test, after its assertions, so a failed test leaves its file incomplete and the README
 * is not rewritten from partial numbers.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { repoRoot } from '../../src/local/identity-provider/launch';

export type TallyKind = 'fault' | 'attack';

export interface TallyRecord {
  kind: TallyKind;
  /** The row of the README table, e.g. "Key Vault 429/503 during steps". */
  category: string;
  /** Attacks sent, or operations (steps, calls) run under a fault. */
  tried: number;
  /** Attacks: how many were refused (must equal `tried`). Faults: operations that completed correctly. */
  handled: number;
  /** Faulted answers or messages actually delivered (e.g. HTTP 429s served, connections reset). */
  faultsInjected: number;
  /** Items lost or done twice: secret versions, actions, runs, messages. */
  lost: number;
}

export interface TallyFile {
  /** The jest process that ran this file (see `runnerId`). */
  runner: number;
  testFile: string;
  testsStarted: string[];
  testsRecorded: string[];
  complete: boolean;
  records: (TallyRecord & { test: string })[];
  writtenAt: string;
}

export const resultsDir = () => path.join(repoRoot(), 'test-results');
export const tallyDir = () => path.join(resultsDir(), 'tally');

/**
 * The main jest process of this run: test files run in child-process workers (whose parent it is) or, with a
 * single file or --runInBand, in that process itself. Lets the teardown ignore files of other, concurrent runs.
 */
export const runnerId = (): number => (/jest-worker/.test(process.argv[1] ?? '') ? process.ppid : process.pid);

export const fileSlug = (testPath: string) =>
  path
    .relative(repoRoot(), testPath)
    .replace(/\.test\.ts$/, '')
    .replace(/[^A-Za-z0-9]+/g, '-')
    .replace(/^-|-$/g, '');

const currentTest = () => expect.getState().currentTestName ?? '(file)';

/** Call once at the top of a test file; then `record(...)` at the end of each test. */
export function useTally() {
  const testFile = expect.getState().testPath ?? 'unknown';
  const started = new Set<string>();
  const recorded = new Set<string>();
  const records: TallyFile['records'] = [];

  beforeEach(() => {
    started.add(currentTest());
  });

  afterAll(() => {
    const file: TallyFile = {
      runner: runnerId(),
      testFile: path.relative(repoRoot(), testFile),
      testsStarted: [...started],
      testsRecorded: [...recorded],
      complete: started.size > 0 && [...started].every((t) => recorded.has(t)),
      records,
      writtenAt: new Date().toISOString(),
    };
    mkdirSync(tallyDir(), { recursive: true });
    writeFileSync(path.join(tallyDir(), `${file.runner}-${fileSlug(testFile)}.json`), `${JSON.stringify(file, null, 2)}\n`);
  });

  return {
    /** Marks the current test as complete without counts (a check that is not a fault or an attack). */
    uncounted(): void {
      recorded.add(currentTest());
    },
    record(entry: TallyRecord): void {
      for (const [k, v] of Object.entries(entry)) {
        if (typeof v === 'number' && (!Number.isInteger(v) || v < 0)) throw new Error(`tally: ${k} must be a non-negative integer`);
      }
      const test = currentTest();
      recorded.add(test);
      records.push({ ...entry, test });
    },
  };
}

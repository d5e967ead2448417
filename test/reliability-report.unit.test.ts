/**
 * The generated README section "Reliability and security" is checked by every full `npm test` (global-teardown.ts).
 * A fault or attack test that passes without recording its counts used to make the check skip silently; the run now
 * fails and names the file, while a run that leaves files out (one file, a name pattern) still only says why it did
 * not check.
 */
import { filtersOf, summarize, uncheckedReadmeProblem } from './support/global-teardown';
import type { TallyFile } from './support/tally';

/** Complete tallies for every counted file but `incomplete`, which started a test that recorded nothing. */
function tallies(incomplete: string): TallyFile[] {
  const files = summarize([], [], []).whyNotFull.map((why) => why.replace(/ did not run$/, ''));
  expect(files).toContain(incomplete);
  return files.map((testFile) => ({
    runner: 1,
    testFile,
    testsStarted: ['a', 'b'],
    testsRecorded: testFile === incomplete ? ['a'] : ['a', 'b'],
    complete: testFile !== incomplete,
    records: [{ test: 'a', kind: 'fault', category: 'x', tried: 1, handled: 1, faultsInjected: 1, lost: 0 }],
    writtenAt: new Date(0).toISOString(),
  }));
}

test('a run whose fault file has a test without counts fails, naming the file', () => {
  const summary = summarize(tallies('test/faults/key-vault.test.ts'), [], filtersOf({}));
  expect(summary.fullRun).toBe(false);
  expect(uncheckedReadmeProblem(summary)).toMatch(
    /could not be checked: test\/faults\/key-vault\.test\.ts: not every test recorded its counts/,
  );
});

test('a run with every tally complete is checked; a run that leaves files out is not, and is not failed for it', () => {
  const all = tallies('test/faults/key-vault.test.ts').map((t) => ({ ...t, complete: true }));
  expect(uncheckedReadmeProblem(summarize(all, [], []))).toBeUndefined();
  const filters = filtersOf({ testNamePattern: 'vault' });
  expect(filters).toEqual(['test name pattern "vault"']);
  const filtered = summarize([], [], filters);
  expect(filtered.fullRun).toBe(false);
  expect(uncheckedReadmeProblem(filtered)).toBeUndefined();
  // Files left out without a filter jest reports (an ignore pattern, other roots): skipped, not failed.
  const leftOut = summarize(all.slice(1), [], []);
  expect(leftOut.fullRun).toBe(false);
  expect(uncheckedReadmeProblem(leftOut)).toBeUndefined();
});

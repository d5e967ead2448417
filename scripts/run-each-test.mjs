// Runs every test on its own (one jest process per test, selected by file and exact full name) and lists
// the ones that fail alone: a test that passes only after its neighbours is testing their leftovers.
//
//   npm run build:local && node scripts/run-each-test.mjs [test files or folders...]
//
// Without arguments it takes every file jest would run. Slow by design (each test starts its own stack):
// pass a file to check just that one. Exits 1 if any test failed alone.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const jest = path.join(root, 'node_modules', '.bin', 'jest');
const escapeRegExp = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const scratch = mkdtempSync(path.join(tmpdir(), 'run-each-test-'));

/** Runs jest under the local CA (as `npm test` does) and answers its JSON report. */
function runJest(args) {
  const outputFile = path.join(scratch, 'report.json');
  rmSync(outputFile, { force: true });
  const result = spawnSync(
    process.execPath,
    [path.join(root, 'scripts', 'with-local-ca.mjs'), jest, '--json', `--outputFile=${outputFile}`, '--runInBand', ...args],
    { cwd: root, encoding: 'utf8' },
  );
  let report;
  try {
    report = JSON.parse(readFileSync(outputFile, 'utf8'));
  } catch {
    report = undefined;
  }
  return { report, output: `${result.stdout}\n${result.stderr}` };
}

function listFiles(selection) {
  const result = spawnSync(jest, ['--listTests', ...selection], { cwd: root, encoding: 'utf8' });
  if (result.status !== 0) throw new Error(result.stderr);
  return result.stdout.split('\n').filter(Boolean).sort();
}

/** Full test names of a file, without running any (a pattern nothing matches skips every test and hook). */
function listTests(file) {
  const { report, output } = runJest([file, '-t', '^(?!)$']);
  if (!report) throw new Error(`could not list the tests of ${file}:\n${output}`);
  return report.testResults.flatMap((r) => r.assertionResults.map((a) => a.fullName));
}

const files = listFiles(process.argv.slice(2));
const failures = [];
let count = 0;
for (const file of files) {
  const relative = path.relative(root, file);
  for (const name of listTests(file)) {
    count++;
    const started = Date.now();
    const { report, output } = runJest([file, '-t', `^${escapeRegExp(name)}$`]);
    const results = report?.testResults.flatMap((r) => r.assertionResults) ?? [];
    const ran = results.filter((a) => a.status === 'passed' || a.status === 'failed');
    const ok = report?.success === true && ran.length === 1 && ran[0].status === 'passed';
    const seconds = ((Date.now() - started) / 1000).toFixed(1);
    console.log(`${ok ? 'pass' : 'FAIL'}  ${seconds}s  ${relative} › ${name}`);
    if (!ok) {
      const why =
        ran.length === 1 ? ran[0].failureMessages.join('\n') : ran.length === 0 ? `no test ran\n${output}` : `${ran.length} tests ran`;
      failures.push({ file: relative, name, why: why.split('\n').slice(0, 12).join('\n') });
    }
  }
}
rmSync(scratch, { recursive: true, force: true });

console.log(`\n${count} tests run one by one, ${failures.length} failed alone.`);
for (const f of failures) console.log(`\n✗ ${f.file} › ${f.name}\n${f.why}`);
process.exit(failures.length ? 1 : 0);

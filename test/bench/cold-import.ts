/**
 * cold_import: how long a fresh Node process takes to import the production functions entry, as a cold Functions
 * worker does: the tsc output dist/functions/index.js (which requires its dependencies from node_modules one file at
 * a time) vs the deploy package that scripts/bundle-functions.mjs builds (index.js with what the import needs, the
 * Azure SDKs the app loads on first use in sdk/*.js), built into a temporary folder with no node_modules next to
 * it, so a missing dependency would fail the import. Both sides load the SDKs lazily (src/ requires them inside
 * functions), so the ratio is what bundling adds on top of that.
 *
 * Each sample is a new `node` process that times `require(entry)` with performance.now(); the wall time of the
 * whole process (spawn to exit) is reported too. One warm-up import per side (file cache), then 10 samples per
 * side, alternating. Outside the Functions host `@azure/functions` only warns that `app.*` registrations have no
 * host; `@azure/functions-core` is provided by the worker at runtime, so the bundle leaves it external.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { repoRoot } from '../../src/local/identity-provider/launch';
import { bicepEnvironment } from '../support/deploy-environment';
import { connectionsListWithoutToken, runInWorkerStandIn } from '../support/worker-stand-in';
import { median, note, round, type Figure } from './harness';

const SAMPLES = 10;
const FIRST_ANSWER_SAMPLES = 6;

function importOnce(entry: string, cwd: string): { requireMs: number; processMs: number } {
  const script = `const { performance } = require('node:perf_hooks'); const t0 = performance.now(); require(${JSON.stringify(entry)}); process.stdout.write(JSON.stringify({ ms: performance.now() - t0 }));`;
  const t0 = performance.now();
  const child = spawnSync(process.execPath, ['-e', script], { cwd, encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' } });
  const processMs = performance.now() - t0;
  if (child.status !== 0) throw new Error(`import of ${entry} failed (exit ${child.status}): ${child.stderr.slice(-1500)}`);
  const line = child.stdout.trim().split('\n').pop() ?? '';
  return { requireMs: (JSON.parse(line) as { ms: number }).ms, processMs };
}

/**
 * A fresh process's first HTTP answer: the Functions worker stand-in (test/support/worker-stand-in.ts) loads the app
 * folder's `main` with the app settings Bicep writes and invokes `GET /api/connections` without a token (401: the app
 * context is built, nothing reaches Azure). Timed from forking `node` to the answer arriving; `loadMs` is the worker's
 * own time to load `main`.
 */
async function firstAnswerOnce(appDir: string, env: Record<string, string>): Promise<{ ms: number; loadMs: number }> {
  const result = await runInWorkerStandIn(appDir, env, [connectionsListWithoutToken()]);
  const status = result.invocations[0]?.response?.returnValue?.http?.statusCode;
  if (status !== '401' || result.loadMs === undefined)
    throw new Error(`first answer: expected 401, got ${status}: ${JSON.stringify(result).slice(0, 1500)}`);
  return { ms: result.msToResult, loadMs: result.loadMs };
}

export async function coldImport(): Promise<Figure> {
  const root = repoRoot();
  const unbundled = path.join(root, 'dist', 'functions', 'index.js');
  statSync(unbundled); // built by `npm run build:local`, which `npm run bench` runs first
  const dir = mkdtempSync(path.join(os.tmpdir(), 'connections-bench-bundle-'));
  try {
    const packageDir = path.join(dir, 'package');
    const bundled = path.join(packageDir, 'index.js');
    note('cold_import: building the deploy package (scripts/bundle-functions.mjs) into a temporary folder');
    const built = spawnSync(process.execPath, [path.join(root, 'scripts', 'bundle-functions.mjs'), `--out=${packageDir}`], {
      encoding: 'utf8',
    });
    if (built.status !== 0) throw new Error(`bundle-functions.mjs failed: ${built.stderr}`);
    const sdkDir = path.join(packageDir, 'sdk');
    const sdkKb = Math.round(readdirSync(sdkDir).reduce((sum, f) => sum + statSync(path.join(sdkDir, f)).size, 0) / 1024);

    note(`cold_import: ${SAMPLES} fresh processes per side`);
    importOnce(unbundled, root); // warm-ups: file cache, not counted
    importOnce(bundled, packageDir);
    const plain: { requireMs: number; processMs: number }[] = [];
    const bundle: { requireMs: number; processMs: number }[] = [];
    for (let i = 0; i < SAMPLES; i++) {
      if (i % 2 === 0) {
        plain.push(importOnce(unbundled, root));
        bundle.push(importOnce(bundled, packageDir));
      } else {
        bundle.push(importOnce(bundled, packageDir));
        plain.push(importOnce(unbundled, root));
      }
    }
    // The unbundled side as an app folder: its `main` loads the tsc output, which requires from the repo's node_modules.
    const unbundledApp = path.join(dir, 'unbundled');
    mkdirSync(unbundledApp);
    writeFileSync(path.join(unbundledApp, 'index.js'), `module.exports = require(${JSON.stringify(unbundled)});\n`);
    writeFileSync(path.join(unbundledApp, 'package.json'), JSON.stringify({ main: 'index.js' }));
    const env = bicepEnvironment(path.join(root, 'infra', 'modules', 'function-app.bicep'));
    note(`cold_import: first HTTP answer of a fresh process, ${FIRST_ANSWER_SAMPLES} per side`);
    await firstAnswerOnce(packageDir, env); // warm-ups
    await firstAnswerOnce(unbundledApp, env);
    const answerBundled: { ms: number; loadMs: number }[] = [];
    const answerUnbundled: { ms: number; loadMs: number }[] = [];
    for (let i = 0; i < FIRST_ANSWER_SAMPLES; i++) {
      answerBundled.push(await firstAnswerOnce(packageDir, env));
      answerUnbundled.push(await firstAnswerOnce(unbundledApp, env));
    }

    const m = (xs: { requireMs: number; processMs: number }[], k: 'requireMs' | 'processMs') => round(median(xs.map((x) => x[k])), 1);
    const bundledMs = m(bundle, 'requireMs');
    const unbundledMs = m(plain, 'requireMs');
    return {
      name: 'cold_import',
      bundled_import_ms: bundledMs,
      unbundled_import_ms: unbundledMs,
      ratio: round(bundledMs / unbundledMs),
      bundled_process_ms: m(bundle, 'processMs'),
      unbundled_process_ms: m(plain, 'processMs'),
      first_answer_bundled_ms: round(median(answerBundled.map((a) => a.ms)), 1),
      first_answer_unbundled_ms: round(median(answerUnbundled.map((a) => a.ms)), 1),
      // The same import as the worker does it (its core module present, so @azure/functions registers each function
      // with the host instead of warning that it is in test mode), from the first-answer processes.
      host_load_bundled_ms: round(median(answerBundled.map((a) => a.loadMs)), 1),
      host_load_unbundled_ms: round(median(answerUnbundled.map((a) => a.loadMs)), 1),
      host_load_ratio: round(median(answerBundled.map((a) => a.loadMs)) / median(answerUnbundled.map((a) => a.loadMs))),
      first_answer_runs: FIRST_ANSWER_SAMPLES,
      bundle_kb: Math.round(statSync(bundled).size / 1024),
      lazy_sdk_kb: sdkKb,
      runs: SAMPLES,
      statistic: 'median',
      warmup_runs: 1,
      bundle_wins: bundledMs < unbundledMs,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * `npm run bench`: measures the cost of running steps under connections on a local stack (Azurite, the local
 * identity provider, the Key Vault and Graph stand-ins, the in-process Service Bus) and prints one JSON object
 * per figure on stdout; progress goes to stderr. docs/performance.md explains the figures (README "Performance" summarizes them).
 *
 *   npm run bench                               all figures (about 2 minutes on 2 cores, more on a busy machine)
 *   npm run bench -- --only=refresh_burst,cold_import
 *   BENCH_SCALE=0.2 npm run bench               a fifth of the work, for a quick look (not for reporting)
 *   BENCH_DURABLE_BUS=1 npm run bench           the stack's bus kept in Azurite as `npm start` keeps it (default: in memory)
 *
 * Figures: cold_import, step_overhead (+ step_overhead_graph_latency), memory, token_calls, refresh_burst,
 * event_matching, local_bus, user_process_vault, scale_model. No figure is a pass/fail test, and none of this runs in `npm test`.
 */
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { startTestStack, type TestStack } from '../support/test-stack';
import { coldImport } from './cold-import';
import { eventMatching } from './event-matching';
import { localBus } from './local-bus';
import { durableBus, emit, note, round, scale, type Figure } from './harness';
import { memoryFigure } from './memory';
import { refreshBurst } from './refresh-burst';
import { scaleModel } from './scale-model';
import { stepOverhead } from './step-overhead';
import { tokenCalls } from './token-calls';
import { userProcessVault } from './user-process-vault';

const all = [
  'cold_import',
  'step_overhead',
  'memory',
  'token_calls',
  'refresh_burst',
  'event_matching',
  'local_bus',
  'user_process_vault',
  'scale_model',
] as const;

function selected(): Set<string> {
  const arg = process.argv.find((a) => a.startsWith('--only='))?.slice('--only='.length) ?? process.env.BENCH_ONLY ?? '';
  const names = arg
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const unknown = names.filter((n) => !(all as readonly string[]).includes(n) && n !== 'step_overhead_graph_latency');
  if (unknown.length) throw new Error(`unknown figure(s) ${unknown.join(', ')}; known: ${all.join(', ')}, step_overhead_graph_latency`);
  const chosen = new Set(names.length ? names : all);
  if (chosen.has('memory') || chosen.has('step_overhead_graph_latency')) chosen.add('step_overhead');
  return chosen;
}

async function main(): Promise<number> {
  const only = selected();
  const started = performance.now();
  let failures = 0;
  const attempt = async (name: string, work: () => Promise<Figure | Figure[] | void>) => {
    try {
      const out = await work();
      for (const f of Array.isArray(out) ? out : out ? [out] : []) emit(f);
    } catch (e) {
      failures++;
      note(`${name} failed: ${(e as Error).stack ?? e}`);
      emit({ name, error: (e as Error).message });
    }
  };

  emit({
    name: 'environment',
    node: process.version,
    cpus: os.cpus().length,
    cpu_model: os.cpus()[0]?.model ?? 'unknown',
    total_memory_gb: round(os.totalmem() / 1024 ** 3, 1),
    scale,
    bus: durableBus ? 'durable (Azurite)' : 'in-memory',
  });

  // First, before the stack runs: fresh processes timed on an otherwise idle machine.
  if (only.has('cold_import')) await attempt('cold_import', coldImport);

  const needsStack = [...only].some((n) => n !== 'cold_import');
  if (needsStack) {
    note(
      `starting the local stack (Azurite, identity provider, vault and Graph stand-ins, ${durableBus ? 'durable' : 'in-memory'} in-process bus)`,
    );
    let stack: TestStack | undefined;
    try {
      stack = await startTestStack({
        durableBus,
        // event_matching publishes 1,000 processes in one tenant: more than the default quota (200) allows.
        env: { QUOTA_PROCESSES_PER_TENANT: '2000' },
        // The functions' own logs stay quiet unless something goes wrong.
        log: (level, fn, message) => {
          if (level === 'error' || level === 'warning' || level === 'warn') note(`${level} ${fn}: ${message}`);
        },
      });
      const s = stack;
      if (only.has('step_overhead')) {
        await attempt('step_overhead', async () => {
          const result = await stepOverhead(s);
          return only.has('memory') ? [...result.figures, memoryFigure(result.memory)] : result.figures;
        });
      }
      if (only.has('token_calls')) await attempt('token_calls', () => tokenCalls(s));
      if (only.has('refresh_burst')) await attempt('refresh_burst', () => refreshBurst(s));
      if (only.has('event_matching')) await attempt('event_matching', () => eventMatching(s));
      if (only.has('local_bus')) await attempt('local_bus', () => localBus(s.azurite));
      if (only.has('user_process_vault')) await attempt('user_process_vault', () => userProcessVault(s));
      if (only.has('scale_model')) await attempt('scale_model', () => scaleModel(s));
    } finally {
      await stack?.stop();
    }
  }
  note(`done in ${round((performance.now() - started) / 1000, 1)} s${failures ? `, ${failures} figure(s) failed` : ''}`);
  return failures ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    note(`bench failed: ${(e as Error).stack ?? e}`);
    process.exit(1);
  },
);

/**
 * memory: peak resident memory of the bench process while it ran the step_overhead engine pass (the process hosts
 * the step runner, the token broker, the in-process Service Bus and the Graph stand-in; Azurite and the identity
 * provider are child processes, reported separately). Sampled every 20 ms over the 5 engine rounds; the baseline is
 * the same sampling over the first direct-call round, which runs after setup and warm-up and before any measured
 * engine round.
 */
import type { StepOverheadResult } from './step-overhead';
import { mb, round, type Figure } from './harness';

export function memoryFigure(result: StepOverheadResult['memory']): Figure {
  return {
    name: 'memory',
    during: `step_overhead engine run (${result.steps} steps)`,
    peak_rss_mb: mb(result.peakRss),
    rss_before_mb: mb(result.startRss),
    // RSS at the start of the first engine round.
    growth_mb: mb(result.peakRss - result.startRss),
    peak_heap_used_mb: mb(result.peakHeapUsed),
    direct_run_peak_rss_mb: mb(result.directPeakRss),
    ratio: round(result.peakRss / result.directPeakRss),
    children_peak_rss_mb: Object.fromEntries(Object.entries(result.childrenPeakRss).map(([k, v]) => [k, mb(v)])),
    process_max_rss_mb: mb(process.resourceUsage().maxRSS * 1024),
    samples: result.samples,
    runs: 1,
  };
}

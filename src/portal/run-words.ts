import type { Run, RunStep } from './api';

/** A run's status as the page shows it: an icon, words, and the tone of its badge. */
export const RUN_STATUS: Record<Run['status'], { icon: string; text: string; tone: string }> = {
  succeeded: { icon: '✓', text: 'Succeeded', tone: 'ok' },
  failed: { icon: '✗', text: 'Failed', tone: 'error' },
  running: { icon: '…', text: 'Running', tone: 'info' },
  waiting: { icon: '⏸', text: 'Waiting for input', tone: 'waiting' },
  not_started: { icon: '–', text: 'Not started', tone: 'muted' },
};

const STEP_STATUS: Record<RunStep['status'], { icon: string; tone: string; text: string }> = {
  succeeded: { icon: '✓', tone: 'ok', text: 'succeeded' },
  failed: { icon: '✗', tone: 'error', text: 'failed' },
  running: { icon: '…', tone: 'info', text: 'running' },
  waiting: { icon: '⏸', tone: 'waiting', text: 'waiting for input' },
  pending: { icon: '○', tone: 'muted', text: 'pending' },
  skipped: { icon: '–', tone: 'muted', text: 'skipped' },
};

/** A run that has ended cannot run its pending steps any more: they did not run, they are not "pending". */
export const runEnded = (run: Run) => run.status === 'succeeded' || run.status === 'failed' || run.status === 'not_started';

export function stepStatusOf(run: Run, step: RunStep): { icon: string; tone: string; text: string } {
  if (step.status === 'pending' && runEnded(run)) return { icon: '–', tone: 'muted', text: 'not run' };
  return STEP_STATUS[step.status];
}

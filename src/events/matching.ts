import { conditionsHold } from '../processes/conditions';
import type { PublishedProcess } from '../processes/process-definition';
import type { ProductEvent } from './product-event';

/** A chain of runs causing events causing runs stops here, whatever the processes say. */
export const maxChainDepth = 5;

export type { PublishedProcess };

export type MatchDecision =
  /** `allowSelfTrigger`: a matching trigger opted out of the loop guard by identity (src/runs/loop-guard.ts). */
  { process: PublishedProcess; start: true; allowSelfTrigger?: true } | { process: PublishedProcess; start: false; reason: string };

/**
 * Which published system processes an event starts. Several matching triggers of one process still
 * start one run. Matches refused by the loop guard are returned with the reason, so it can be recorded.
 */
export function matchEvent(event: ProductEvent, processes: readonly PublishedProcess[]): MatchDecision[] {
  const scope = { event };
  const decisions: MatchDecision[] = [];
  for (const process of processes) {
    const d = process.definition;
    if (d.kind !== 'system') continue;
    const matching = (d.triggers ?? []).filter((t) => !t.disabled && t.event === event.type && conditionsHold(t.conditions, scope));
    if (matching.length === 0) continue;
    const cause = event.causedBy;
    if (cause?.processId === d.id) {
      decisions.push({
        process,
        start: false,
        reason: `Not started: the event was caused by this process's own run ${cause.runId} (loop guard).`,
      });
    } else if (cause && cause.depth >= maxChainDepth) {
      decisions.push({
        process,
        start: false,
        reason: `Not started: the chain of runs triggering runs reached ${maxChainDepth} (loop guard).`,
      });
    } else {
      decisions.push({
        process,
        start: true,
        ...(matching.some((t) => t.allowSelfTrigger === true) ? { allowSelfTrigger: true as const } : {}),
      });
    }
  }
  return decisions;
}

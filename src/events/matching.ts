import { compileConditions, equalityKey, equalityKeysOf, readSegments, requiresValue } from '../processes/conditions';
import type { EventType } from '../processes/event-types';
import type { PublishedProcess, TriggerDefinition } from '../processes/process-definition';
import type { ProductEvent } from './product-event';

/** A chain of runs causing events causing runs stops here, whatever the processes say. */
export const maxChainDepth = 5;

export type { PublishedProcess };

export type MatchDecision =
  /** `allowSelfTrigger`: a matching trigger opted out of the loop guard by identity (src/runs/loop-guard.ts). */
  { process: PublishedProcess; start: true; allowSelfTrigger?: true } | { process: PublishedProcess; start: false; reason: string };

/** An enabled trigger of a published system process, compiled once per published version. */
interface CompiledTrigger {
  event: EventType;
  allowSelfTrigger: boolean;
  /** The trigger's conditions but the one it is indexed by (`lookup` or `presence`), which holds wherever it is reached. */
  holds: (scope: unknown) => boolean;
  /** A condition that holds exactly when the value at `path` has one of `keys` (an `eq`/`in` on scalars). */
  lookup?: { path: string; keys: Set<string> };
  /** Else a condition that holds only where `path` has a value (`exists`). */
  presence?: { path: string };
}

/** A trigger in the index of one list of processes: `position` is its process's place in that list. */
type IndexedTrigger = CompiledTrigger & { position: number };

/**
 * The triggers of one event type. A trigger with a lookup condition is filed under its path and values, so an event
 * reaches it only through a hash lookup of its own value at that path; one with an `exists` condition under that
 * path, reached only when the event has a value there; the other triggers are checked for every event of the type.
 */
interface TypeIndex {
  everyEvent: IndexedTrigger[];
  byPath: Map<string, { segments: string[]; byKey: Map<string, IndexedTrigger[]> }>;
  whenPresent: Map<string, { segments: string[]; triggers: IndexedTrigger[] }>;
}

type EventIndex = Map<EventType, TypeIndex>;

// The repository hands out the same PublishedProcess object for as long as the version it holds is the latest, so
// a process is compiled when it is first matched after a publish, not once per event or per cache refresh.
const compiledProcesses = new WeakMap<PublishedProcess, CompiledTrigger[]>();
// One index per list: the repository keeps a tenant's list for a few seconds, so a burst of events shares it.
const indexes = new WeakMap<readonly PublishedProcess[], EventIndex>();

function compileTrigger(t: TriggerDefinition): CompiledTrigger {
  const conditions = t.conditions ?? [];
  // The condition with the fewest values lets the fewest events through to the full check.
  const lookup = conditions
    .flatMap((c) => {
      const keys = equalityKeysOf(c);
      return keys ? [{ condition: c, path: c.path, keys: new Set(keys) }] : [];
    })
    .sort((a, b) => a.keys.size - b.keys.size)[0];
  const present = lookup ? undefined : conditions.find(requiresValue);
  // An event reaches the trigger only through its lookup (or presence) condition, which therefore holds: the full
  // check is left with the others.
  const indexedBy = lookup?.condition ?? present;
  return {
    event: t.event,
    allowSelfTrigger: t.allowSelfTrigger === true,
    holds: compileConditions(conditions.filter((c) => c !== indexedBy)),
    ...(lookup ? { lookup: { path: lookup.path, keys: lookup.keys } } : present ? { presence: { path: present.path } } : {}),
  };
}

function compiledTriggersOf(process: PublishedProcess): CompiledTrigger[] {
  let compiled = compiledProcesses.get(process);
  if (!compiled) {
    const d = process.definition;
    compiled = d.kind === 'system' ? (d.triggers ?? []).filter((t) => !t.disabled).map(compileTrigger) : [];
    compiledProcesses.set(process, compiled);
  }
  return compiled;
}

function buildIndex(processes: readonly PublishedProcess[]): EventIndex {
  const index: EventIndex = new Map();
  processes.forEach((process, position) => {
    for (const compiled of compiledTriggersOf(process)) {
      const trigger: IndexedTrigger = { ...compiled, position };
      let byType = index.get(trigger.event);
      if (!byType) index.set(trigger.event, (byType = { everyEvent: [], byPath: new Map(), whenPresent: new Map() }));
      if (trigger.presence) {
        const { path } = trigger.presence;
        const present = byType.whenPresent.get(path);
        if (present) present.triggers.push(trigger);
        else byType.whenPresent.set(path, { segments: path.split('.'), triggers: [trigger] });
        continue;
      }
      if (!trigger.lookup) {
        byType.everyEvent.push(trigger);
        continue;
      }
      let path = byType.byPath.get(trigger.lookup.path);
      if (!path) byType.byPath.set(trigger.lookup.path, (path = { segments: trigger.lookup.path.split('.'), byKey: new Map() }));
      for (const key of trigger.lookup.keys) {
        const list = path.byKey.get(key);
        if (list) list.push(trigger);
        else path.byKey.set(key, [trigger]);
      }
    }
  });
  return index;
}

function indexOf(processes: readonly PublishedProcess[]): EventIndex {
  let index = indexes.get(processes);
  if (!index) indexes.set(processes, (index = buildIndex(processes)));
  return index;
}

/**
 * Which published system processes an event starts, in the order of `processes`. Several matching triggers of one
 * process still start one run. Matches refused by the loop guard are returned with the reason, so it can be
 * recorded. Treat `processes` as immutable once matched: its index is kept with it.
 */
export function matchEvent(event: ProductEvent, processes: readonly PublishedProcess[]): MatchDecision[] {
  const byType = indexOf(processes).get(event.type);
  if (!byType) return [];
  const scope = { event };
  // Positions of matched processes, and whether a matching trigger of each allows self-triggering.
  const matched: number[] = [];
  const allowsSelf: boolean[] = [];
  const consider = (triggers: readonly IndexedTrigger[]) => {
    for (const t of triggers) {
      const at = matched.indexOf(t.position); // a handful of matches per event: a scan beats a Map
      if ((at >= 0 && allowsSelf[at]) || !t.holds(scope)) continue;
      if (at >= 0) allowsSelf[at] = t.allowSelfTrigger;
      else {
        matched.push(t.position);
        allowsSelf.push(t.allowSelfTrigger);
      }
    }
  };
  consider(byType.everyEvent);
  for (const path of byType.byPath.values()) {
    const key = equalityKey(readSegments(scope, path.segments));
    const triggers = key === undefined ? undefined : path.byKey.get(key);
    if (triggers) consider(triggers);
  }
  for (const present of byType.whenPresent.values()) {
    const value = readSegments(scope, present.segments);
    if (value !== undefined && value !== null) consider(present.triggers);
  }
  if (matched.length === 0) return [];
  const order = matched.length === 1 ? [0] : matched.map((_, i) => i).sort((a, b) => matched[a] - matched[b]);

  const decisions: MatchDecision[] = [];
  const cause = event.causedBy;
  for (const i of order) {
    const process = processes[matched[i]];
    if (cause?.processId === process.definition.id) {
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
      decisions.push(allowsSelf[i] ? { process, start: true, allowSelfTrigger: true } : { process, start: true });
    }
  }
  return decisions;
}

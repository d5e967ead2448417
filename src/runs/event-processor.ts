import type { MessageSender } from '../adapters/message-queue';
import type { ConnectionRepository } from '../connections/connection-repository';
import { matchEvent, type PublishedProcess } from '../events/matching';
import type { ProductEvent } from '../events/product-event';
import type { ProcessRepository } from '../processes/process-repository';
import { inSpan, runSpan, type SpanRef } from '../shared/spans';
import { noConnectionMessage } from './executor';
import { selfTriggerReason } from './loop-guard';
import { newRun, startCommands } from './core/runs';
import { runIdFor, type RunRepository } from './run-repository';
import { sendSteps, type StepToSend } from './step-message';

export interface EventOutcome {
  started: string[];
  notStarted: { runId: string; reason: string }[];
}

/**
 * Turns a product event into runs: one per matching published system process. Idempotent: a
 * redelivered event finds its runs (ids derive from event, process and the time the event was first
 * received) and only re-sends their first step, which Service Bus duplicate detection drops if it was
 * already sent.
 */
export class EventProcessor {
  constructor(
    private readonly deps: {
      processes: ProcessRepository;
      runs: RunRepository;
      connections: ConnectionRepository;
      sender: MessageSender;
      now?: () => Date;
    },
  ) {}

  /**
   * @param parent the trace the event arrived in (its message's `traceparent`), continued by the event intake span and
   * so by every run it starts; without one each event starts a new trace.
   */
  async handle(event: ProductEvent, parent?: SpanRef): Promise<EventOutcome> {
    const ids = { 'tenant.id': event.tenantId, 'event.id': event.id, 'event.type': event.type };
    return inSpan('event intake', parent, ids, async (intake) => {
      const outcome = await this.startRuns(event, intake.ref);
      intake.set({ 'runs.started': outcome.started.length, 'runs.not_started': outcome.notStarted.length });
      return outcome;
    });
  }

  private async startRuns(event: ProductEvent, intake: SpanRef): Promise<EventOutcome> {
    const published: readonly PublishedProcess[] = await this.deps.processes.listPublished(event.tenantId);
    const decisions = matchEvent(event, published);
    const outcome: EventOutcome = { started: [], notStarted: [] };
    if (decisions.length === 0) return outcome;
    const connections = await this.deps.connections.list(event.tenantId);
    const hasConnection = connections.length > 0;
    const clock = this.deps.now?.() ?? new Date();
    // Runs are ordered by when the event was received; its occurredAt is the sender's and stays data.
    const receivedAt = await this.deps.runs.receivedAt(event, clock);
    const firstSteps: StepToSend[] = [];
    for (const decision of decisions) {
      const { definition, version } = decision.process;
      const id = runIdFor(event, definition.id, receivedAt);
      const guarded = decision.start
        ? selfTriggerReason(event, definition, connections, decision.allowSelfTrigger === true)
        : decision.reason;
      const reason = guarded ?? (!hasConnection ? noConnectionMessage : undefined);
      const stored = await inSpan(
        'run creation',
        intake,
        { 'tenant.id': event.tenantId, 'process.id': definition.id, 'process.version': version, 'run.id': id, 'event.id': event.id },
        async (span) => {
          const { run } = newRun(
            {
              id,
              tenantId: event.tenantId,
              kind: 'system',
              process: { id: definition.id, version, steps: definition.steps },
              event,
              subject: event.subject,
              trace: span.ref,
              ...(reason ? { stopped: { status: guarded ? 'not_started' : 'failed', reason } } : {}),
            },
            clock,
          );
          const created = await this.deps.runs.create(run);
          // A redelivered event finds its run, which keeps the trace it was created in.
          return created ? run : ((await this.deps.runs.get(event.tenantId, id)) ?? run);
        },
      );
      const start = startCommands(stored);
      if (start.length) {
        outcome.started.push(id);
        for (const c of start) if (c.kind === 'sendStep') firstSteps.push({ ...c.step, trace: runSpan(stored) });
      } else {
        outcome.notStarted.push({ runId: id, reason: stored.reason ?? stored.status });
      }
    }
    await sendSteps(this.deps.sender, firstSteps);
    return outcome;
  }
}

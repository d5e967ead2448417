import { ActionError, type ActionDefinition } from '../actions/action';
import { renderInputs } from '../actions/templates';
import type { MessageSender } from '../adapters/message-queue';
import { withoutUndefined } from '../adapters/tables';
import { queueNames } from '../config/queues';
import type { ConnectionRepository } from '../connections/connection-repository';
import { conditionsHold } from '../events/conditions';
import type { ProcessDefinition } from '../processes/process-definition';
import type { ProcessRepository } from '../processes/process-repository';
import { backoffDelay, sleep } from '../shared/backoff';
import { TokenAcquisitionError, type ConnectionRef, type TokenBroker } from '../tokens/token-broker';
import { executedAsOf, ExecutorResolver, notExecutableMessage } from './executor';
import type { Run, StepRecord } from './run';
import type { RunRepository } from './run-repository';
import { stepMessage, type StepMessage } from './step-message';

/** A failure worth another delivery (the message is abandoned and Service Bus redelivers it). */
export class TransientStepError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TransientStepError';
  }
}

/** A message that can never be processed: recorded as dead-lettered with the reason, never retried. */
export class PoisonMessageError extends Error {
  constructor(readonly reason: string) {
    super(reason);
    this.name = 'PoisonMessageError';
  }
}

export interface Delivery {
  deliveryCount: number;
  maxDeliveryCount: number;
  /** The Service Bus session the message came from; every step message of a run is sent with session = run id. */
  sessionId?: string;
}

/** Retries of a transient token failure within one delivery, before the message goes back to the queue. */
export interface TokenRetryPolicy {
  /** Tries per delivery, the first included. */
  attempts: number;
  /** First wait; doubles per try and per earlier delivery (jittered between half and all of it). */
  baseDelayMs: number;
  maxDelayMs: number;
}

export const defaultTokenRetry: TokenRetryPolicy = { attempts: 3, baseDelayMs: 500, maxDelayMs: 8000 };

export interface StepRunnerDeps {
  runs: RunRepository;
  processes: ProcessRepository;
  connections: ConnectionRepository;
  broker: TokenBroker;
  sender: MessageSender;
  getAction(name: string): ActionDefinition | undefined;
  graphBaseUrl: string;
  now?: () => Date;
  /** Tenant connection lists are reused this long (ms): a burst of steps must not query Tables per step. */
  connectionCacheMs?: number;
  tokenRetry?: Partial<TokenRetryPolicy>;
}

type Outcome = Pick<StepRecord, 'status' | 'error' | 'summary' | 'executedAs'>;

/**
 * Executes one step of a run: resolves who executes it (step's executeAs, else the process's runAs,
 * else the tenant default), gets that connection's access token, runs the action, records the result
 * with the executing identity and enqueues the next step. The step is marked running (with the run
 * row's ETag) before the action is called, so a redelivered message never repeats an action whose
 * outcome was not recorded.
 */
export class StepRunner {
  private readonly definitions = new Map<string, ProcessDefinition>();
  private readonly executors: ExecutorResolver;

  constructor(private readonly deps: StepRunnerDeps) {
    this.executors = new ExecutorResolver(deps.connections, deps.connectionCacheMs ?? 5000);
  }

  private now() {
    return (this.deps.now?.() ?? new Date()).toISOString();
  }

  async handle(message: StepMessage, delivery: Delivery): Promise<void> {
    const { runs } = this.deps;
    // The session is what keeps a run's steps one at a time; a message outside its run's session could run
    // alongside (or ahead of) the run's own steps.
    if (delivery.sessionId !== undefined && delivery.sessionId !== message.runId) {
      throw new PoisonMessageError(`the message came in session "${delivery.sessionId.slice(0, 64)}", not its run's session`);
    }
    const loaded = await runs.getWithEtag(message.tenantId, message.runId);
    if (!loaded) throw new PoisonMessageError(`run ${message.runId} does not exist`);
    let { run, etag } = loaded;
    if (run.status !== 'running') return;
    const step = run.steps[message.stepIndex];
    if (!step) throw new PoisonMessageError(`run ${run.id} has no step ${message.stepIndex}`);
    // Steps run in order. A message for a later step while an earlier one is unfinished is out of order (a
    // duplicate or stray copy): running it would skip ahead. The earlier step enqueues this one when it finishes.
    const unfinished = run.steps.findIndex((s, i) => i < message.stepIndex && (s.status === 'pending' || s.status === 'running'));
    if (unfinished >= 0) {
      throw new PoisonMessageError(`step ${message.stepIndex} of run ${run.id} arrived before step ${unfinished} finished; it was not run early`);
    }
    if (step.status === 'succeeded' || step.status === 'skipped') return this.next(run, message.stepIndex);
    if (step.status === 'failed') return;
    if (step.status === 'running') {
      // Marked running and never recorded: the previous delivery died during the action. Doing it
      // again could do it twice, so the step fails and says why.
      return void (await this.finish(run, etag, message.stepIndex, {
        status: 'failed',
        error: 'The step was interrupted while its action ran; it was not repeated, to avoid doing it twice. Check the target and re-run if needed.',
      }));
    }

    const definition = await this.definition(run);
    const stepDef = definition.steps.find((s) => s.id === step.id);
    if (!stepDef) throw new PoisonMessageError(`process ${run.processId} v${run.processVersion} has no step ${step.id}`);
    if (stepDef.type !== 'action') {
      return void (await this.finish(run, etag, message.stepIndex, { status: 'failed', error: notExecutableMessage }));
    }
    if (!conditionsHold(stepDef.conditions, { event: run.event })) {
      return void (await this.finish(run, etag, message.stepIndex, { status: 'skipped', summary: 'Conditions did not hold.' }));
    }

    const executor = await this.executors.resolve(run.tenantId, definition, stepDef);
    if (executor.kind === 'none') return void (await this.finish(run, etag, message.stepIndex, { status: 'failed', error: executor.reason }));
    const executedAs = executedAsOf(executor);
    const action = this.deps.getAction(stepDef.action!);
    if (!action) return void (await this.finish(run, etag, message.stepIndex, { status: 'failed', error: `Unknown action "${stepDef.action}".`, executedAs }));

    const ref: ConnectionRef = { tenantId: run.tenantId, id: executor.connection.id, objectId: executor.connection.account.objectId };
    let accessToken: string;
    try {
      accessToken = await this.accessToken(ref, delivery);
    } catch (e) {
      if (e instanceof TokenAcquisitionError && e.failure.kind === 'dead_grant') {
        this.executors.forget(run.tenantId);
        return void (await this.finish(run, etag, message.stepIndex, { status: 'failed', error: e.failure.reason, executedAs }));
      }
      return this.retryOrFail(run, etag, message.stepIndex, delivery, e instanceof TokenAcquisitionError ? e.failure.reason : 'The token service failed.', executedAs);
    }

    let inputs: Record<string, unknown>;
    try {
      inputs = renderInputs(stepDef.inputs ?? {}, { event: run.event }) as Record<string, unknown>;
    } catch (e) {
      return void (await this.finish(run, etag, message.stepIndex, { status: 'failed', error: (e as Error).message, executedAs }));
    }

    // Recorded before the call: from here on a redelivery will not repeat the action.
    const started = this.now();
    run = withStep(run, message.stepIndex, { status: 'running', startedAt: started, attempts: step.attempts + 1, executedAs });
    etag = await runs.replace(run, etag);

    let outcome: Outcome;
    try {
      const result = await action.run({
        graphBaseUrl: this.deps.graphBaseUrl,
        accessToken,
        event: run.event,
        inputs,
        idempotencyKey: `${run.id}:${step.id}`,
        causedBy: { runId: run.id, processId: run.processId, depth: (run.event.causedBy?.depth ?? 0) + 1 },
        // Graph's claims challenge (continuous access evaluation): a token with those claims, once per Graph call.
        answerClaimsChallenge: async (claims) => (await this.deps.broker.getAccessToken(ref, { claims })).token,
      });
      outcome = { status: 'succeeded', summary: result.summary, executedAs };
    } catch (e) {
      if (e instanceof TokenAcquisitionError) {
        // Answering a claims challenge failed; Graph refused the call, so the action did not happen.
        if (e.failure.kind === 'dead_grant') {
          this.executors.forget(run.tenantId);
          return void (await this.finish(run, etag, message.stepIndex, { status: 'failed', error: e.failure.reason, executedAs }));
        }
        run = withStep(run, message.stepIndex, { status: 'pending' });
        etag = await runs.replace(run, etag);
        return this.retryOrFail(run, etag, message.stepIndex, delivery, e.failure.reason, executedAs);
      }
      if (e instanceof ActionError && e.kind === 'transient') {
        // Not done, so it may run again: back to pending before the message goes back to the queue.
        run = withStep(run, message.stepIndex, { status: 'pending' });
        etag = await runs.replace(run, etag);
        return this.retryOrFail(run, etag, message.stepIndex, delivery, e.message, executedAs);
      }
      outcome = { status: 'failed', error: e instanceof ActionError ? e.message : 'The action failed unexpectedly.', executedAs };
    }
    await this.finish(run, etag, message.stepIndex, outcome);
  }

  /**
   * The connection's access token. Transient failures (token endpoint or Key Vault down, throttled) are retried here
   * with backoff that grows per try and per delivery, since Service Bus redelivers an abandoned message at once.
   */
  private async accessToken(ref: ConnectionRef, delivery: Delivery): Promise<string> {
    const policy = { ...defaultTokenRetry, ...this.deps.tokenRetry };
    for (let attempt = 1; ; attempt++) {
      try {
        return (await this.deps.broker.getAccessToken(ref)).token;
      } catch (e) {
        // The app's own credentials failing is retried like an outage: no connection is at fault.
        const transient = e instanceof TokenAcquisitionError && e.failure.kind !== 'dead_grant';
        if (!transient || attempt >= policy.attempts || delivery.deliveryCount >= delivery.maxDeliveryCount) throw e;
        // Counted across deliveries: an abandoned message comes back at once, so later deliveries start slower.
        const overall = Math.max(0, delivery.deliveryCount - 1) + attempt;
        await sleep(backoffDelay(overall, { baseMs: policy.baseDelayMs, maxMs: policy.maxDelayMs }));
      }
    }
  }

  /** Transient failure: abandon (Service Bus redelivers) unless this was the last delivery. */
  private async retryOrFail(run: Run, etag: string, index: number, delivery: Delivery, reason: string, executedAs: Outcome['executedAs']): Promise<void> {
    if (delivery.deliveryCount >= delivery.maxDeliveryCount) {
      await this.finish(run, etag, index, { status: 'failed', error: `Gave up after ${delivery.deliveryCount} attempts: ${reason}`, executedAs });
    }
    throw new TransientStepError(reason);
  }

  /** Records the step's outcome, then either enqueues the next step or closes the run. */
  private async finish(run: Run, etag: string, index: number, outcome: Outcome): Promise<void> {
    const finishedAt = this.now();
    let next = withStep(run, index, { ...withoutUndefined(outcome), finishedAt });
    if (outcome.status === 'failed') {
      next = { ...next, status: 'failed', reason: `Step "${run.steps[index].id}" failed: ${outcome.error}`, finishedAt };
    } else if (index === run.steps.length - 1) {
      next = { ...next, status: 'succeeded', finishedAt };
    }
    await this.deps.runs.replace(next, etag);
    if (next.status === 'running') await this.next(next, index);
  }

  private async next(run: Run, index: number): Promise<void> {
    if (index + 1 < run.steps.length) {
      await this.deps.sender.send(queueNames.steps, [stepMessage({ tenantId: run.tenantId, runId: run.id, stepIndex: index + 1 })]);
    }
  }

  private async definition(run: Run): Promise<ProcessDefinition> {
    const key = `${run.tenantId}/${run.processId}@${run.processVersion}`;
    let definition = this.definitions.get(key);
    if (!definition) {
      definition = await this.deps.processes.getVersion(run.tenantId, run.processId, run.processVersion);
      if (!definition) throw new PoisonMessageError(`process ${run.processId} v${run.processVersion} does not exist`);
      if (this.definitions.size > 1000) this.definitions.clear();
      this.definitions.set(key, definition); // published versions never change
    }
    return definition;
  }

}

function withStep(run: Run, index: number, change: Partial<StepRecord>): Run {
  return { ...run, steps: run.steps.map((s, i) => (i === index ? { ...s, ...change } : s)) };
}

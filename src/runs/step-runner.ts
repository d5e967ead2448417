import type { ActionDefinition } from '../actions/action';
import { renderActionInputs } from '../actions/templates';
import type { MessageSender } from '../adapters/message-queue';
import { queueNames } from '../config/queues';
import type { ConnectionRepository } from '../connections/connection-repository';
import type { ProcessDefinition, StepDefinition } from '../processes/process-definition';
import type { ProcessRepository } from '../processes/process-repository';
import { sleep } from '../shared/backoff';
import { AppError } from '../shared/errors';
import type { ConnectionRef, TokenBroker } from '../tokens/token-broker';
import { executedAsOf, ExecutorResolver } from './executor';
import type { ExecutedAs, Run } from './run';
import type { RunRepository } from './run-repository';
import { stepMessage, type StepMessage } from './step-message';
import { nextStepIndex, withOutcome, withStep, type StepOutcome } from './step-outcome';
import { afterTransientFailure, inRunSession, planDelivery, planStep, stepFailure, type Delivery, type StepFailure } from './step-plan';
import { defaultTokenRetry, tokenRetryDelay, type TokenRetryPolicy } from './token-retry';

/** A failure worth another delivery (the message is abandoned and Service Bus redelivers it). */
export class TransientStepError extends AppError {
  constructor(message: string) {
    super('unavailable', message);
    this.name = 'TransientStepError';
  }
}

/** A message that can never be processed: recorded as dead-lettered with the reason, never retried. */
export class PoisonMessageError extends AppError {
  constructor(readonly reason: string) {
    super('invalid', reason);
    this.name = 'PoisonMessageError';
  }
}

export type { Delivery } from './step-plan';
export type { TokenRetryPolicy } from './token-retry';

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

/**
 * Executes one step of a run. What a message means for the run is planned first (step-plan.ts: poison, nothing to
 * do, already done, fail, skip, or run the step); running it resolves who executes it (executor.ts), gets that
 * connection's access token, runs the action, records the result with the executing identity and enqueues the next
 * step. The step is marked running (with the run row's ETag) before the action is called, so a redelivered
 * message never repeats an action whose outcome was not recorded.
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
    const loaded = inRunSession(message, delivery) ? await this.deps.runs.getWithEtag(message.tenantId, message.runId) : undefined;
    const plan = planDelivery(message, delivery, loaded?.run);
    if (plan.kind === 'poison') throw new PoisonMessageError(plan.reason);
    if (plan.kind === 'nothing-to-do' || !loaded) return;
    const { run, etag } = loaded;
    const index = message.stepIndex;
    if (plan.kind === 'already-done') return this.enqueueNext(run, index);
    if (plan.kind === 'fail-run') return this.finish(run, etag, index, { status: 'failed', error: plan.reason });

    const process = await this.definition(run);
    const stepPlan = planStep(run, plan.step, process);
    switch (stepPlan.kind) {
      case 'poison':
        throw new PoisonMessageError(stepPlan.reason);
      case 'fail-run':
        return this.finish(run, etag, index, { status: 'failed', error: stepPlan.reason });
      case 'skip':
        return this.finish(run, etag, index, { status: 'skipped', summary: stepPlan.reason });
      case 'run-step':
        return this.runStep(run, etag, index, process, stepPlan.definition, delivery);
    }
  }

  private async runStep(
    run: Run,
    etag: string,
    index: number,
    process: ProcessDefinition,
    stepDef: StepDefinition,
    delivery: Delivery,
  ): Promise<void> {
    const executor = await this.executors.resolve(run.tenantId, process, stepDef);
    if (executor.kind === 'none') return this.finish(run, etag, index, { status: 'failed', error: executor.reason });
    const executedAs = executedAsOf(executor);
    const action = stepDef.action === undefined ? undefined : this.deps.getAction(stepDef.action);
    if (!action) return this.finish(run, etag, index, { status: 'failed', error: `Unknown action "${stepDef.action}".`, executedAs });

    const ref: ConnectionRef = { tenantId: run.tenantId, id: executor.connection.id, objectId: executor.connection.account.objectId };
    let accessToken: string;
    try {
      accessToken = await this.accessToken(ref, delivery);
    } catch (e) {
      return this.failed(run, etag, index, delivery, stepFailure(e, 'token'), executedAs);
    }

    let inputs: Record<string, unknown>;
    try {
      inputs = renderActionInputs(action, stepDef.inputs ?? {}, { event: run.event });
    } catch (e) {
      return this.finish(run, etag, index, { status: 'failed', error: (e as Error).message, executedAs });
    }

    // Recorded before the call: from here on a redelivery will not repeat the action.
    run = withStep(run, index, { status: 'running', startedAt: this.now(), attempts: run.steps[index].attempts + 1, executedAs });
    etag = await this.deps.runs.replace(run, etag);

    let outcome: StepOutcome;
    try {
      const result = await action.run({
        graphBaseUrl: this.deps.graphBaseUrl,
        accessToken,
        event: run.event,
        inputs,
        idempotencyKey: `${run.id}:${stepDef.id}`,
        causedBy: { runId: run.id, processId: run.processId, depth: (run.event.causedBy?.depth ?? 0) + 1 },
        // Graph's claims challenge (continuous access evaluation): a token with those claims, once per Graph call.
        answerClaimsChallenge: async (claims) => (await this.deps.broker.getAccessToken(ref, { claims })).token,
      });
      outcome = { status: 'succeeded', summary: result.summary, executedAs };
    } catch (e) {
      const failure = stepFailure(e, 'action');
      if (failure.kind === 'transient') {
        // Not done, so it may run again: back to pending before the message goes back to the queue.
        run = withStep(run, index, { status: 'pending' });
        etag = await this.deps.runs.replace(run, etag);
      }
      return this.failed(run, etag, index, delivery, failure, executedAs);
    }
    await this.finish(run, etag, index, outcome);
  }

  /** The connection's access token, transient failures retried here (token-retry.ts) before the message is abandoned. */
  private async accessToken(ref: ConnectionRef, delivery: Delivery): Promise<string> {
    const policy = { ...defaultTokenRetry, ...this.deps.tokenRetry };
    for (let attempt = 1; ; attempt++) {
      try {
        return (await this.deps.broker.getAccessToken(ref)).token;
      } catch (e) {
        const delay = tokenRetryDelay(policy, delivery, attempt, e);
        if (delay === undefined) throw e;
        await sleep(delay);
      }
    }
  }

  private async failed(
    run: Run,
    etag: string,
    index: number,
    delivery: Delivery,
    failure: StepFailure,
    executedAs: ExecutedAs,
  ): Promise<void> {
    if (failure.kind === 'dead-grant') this.executors.forget(run.tenantId); // the connection's status changed
    if (failure.kind !== 'transient') return this.finish(run, etag, index, { status: 'failed', error: failure.reason, executedAs });
    // Abandoned: Service Bus redelivers it, unless this was the last delivery, which fails the step first.
    const next = afterTransientFailure(delivery, failure.reason);
    if (next.kind === 'give-up') await this.finish(run, etag, index, { status: 'failed', error: next.reason, executedAs });
    throw new TransientStepError(failure.reason);
  }

  /** Records the step's outcome, then either enqueues the next step or closes the run. */
  private async finish(run: Run, etag: string, index: number, outcome: StepOutcome): Promise<void> {
    const next = withOutcome(run, index, outcome, this.now());
    await this.deps.runs.replace(next, etag);
    await this.enqueueNext(next, index);
  }

  private async enqueueNext(run: Run, index: number): Promise<void> {
    const next = nextStepIndex(run, index);
    if (next !== undefined)
      await this.deps.sender.send(queueNames.steps, [stepMessage({ tenantId: run.tenantId, runId: run.id, stepIndex: next })]);
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

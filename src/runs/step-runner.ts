import type { ActionDefinition } from '../actions/action';
import { renderActionInputs } from '../actions/templates';
import type { MessageSender } from '../adapters/message-queue';
import { queueNames } from '../config/queues';
import type { ConnectionRepository } from '../connections/connection-repository';
import type { ProcessDefinition, StepDefinition } from '../processes/process-definition';
import type { ProcessRepository } from '../processes/process-repository';
import { sleep } from '../shared/backoff';
import { AppError } from '../shared/errors';
import { inSpan, runSpan, type ActiveSpan } from '../shared/spans';
import type { ConnectionRef, TokenBroker } from '../tokens/token-broker';
import { isDeadGrant, TokenAcquisitionError } from '../tokens/token-errors';
import type { UserSessionStore } from '../tokens/user-session-store';
import type { UserTokens } from '../tokens/user-tokens';
import { userSessionEndedReason } from '../tokens/user-tokens';
import { executedAsOf, ExecutorResolver, type Executor } from './executor';
import { scopeEventOf, type ExecutedAs, type Run } from './run';
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

/** The token a step's action runs with, and how to get one that meets a Graph claims challenge. */
interface StepTokens {
  accessToken: string;
  withClaims: (claims: string) => Promise<string>;
}
export type { TokenRetryPolicy } from './token-retry';

export interface StepRunnerDeps {
  runs: RunRepository;
  processes: ProcessRepository;
  connections: ConnectionRepository;
  broker: TokenBroker;
  /** On-Behalf-Of Graph tokens for the unelevated steps of user runs. */
  userTokens: Pick<UserTokens, 'graphToken'>;
  /** The user token each user run's steps are exchanged from. */
  sessions: Pick<UserSessionStore, 'get' | 'delete'>;
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
      case 'wait-for-form':
        return this.waitForForm(run, etag, index, stepPlan.userObjectId);
      case 'run-step': {
        // The step's span continues the run's trace: its token acquisition and Graph calls are its children.
        const ids = {
          'tenant.id': run.tenantId,
          'process.id': run.processId,
          'run.id': run.id,
          'step.id': run.steps[index].id,
          'step.index': index,
        };
        return inSpan('step', runSpan(run), { ...ids, 'message.delivery_count': delivery.deliveryCount }, (span) =>
          this.runStep(run, etag, index, process, stepPlan.definition, delivery, span),
        );
      }
    }
  }

  private async runStep(
    run: Run,
    etag: string,
    index: number,
    process: ProcessDefinition,
    stepDef: StepDefinition,
    delivery: Delivery,
    span: ActiveSpan,
  ): Promise<void> {
    const executor = await this.executors.resolve(run.tenantId, process, stepDef);
    if (executor.kind === 'none') return this.finish(run, etag, index, { status: 'failed', error: executor.reason });
    if (executor.kind === 'user' && !run.initiatedBy) {
      return this.finish(run, etag, index, { status: 'failed', error: 'Only a run a user started can run steps as its user.' });
    }
    const executedAs = executedAsOf(executor, run.initiatedBy);
    const connectionId = executedAs.kind === 'connection' ? executedAs.connectionId : undefined;
    const traceIds = {
      'tenant.id': run.tenantId,
      'run.id': run.id,
      'step.id': stepDef.id,
      ...(connectionId ? { 'connection.id': connectionId } : {}),
    };
    span.set({ ...traceIds, 'account.name': executedAs.username });
    const action = stepDef.action === undefined ? undefined : this.deps.getAction(stepDef.action);
    if (!action) return this.finish(run, etag, index, { status: 'failed', error: `Unknown action "${stepDef.action}".`, executedAs });

    let tokens: StepTokens;
    try {
      tokens = await this.stepTokens(run, executor, delivery, span);
    } catch (e) {
      // The user's session is over: the run waits for them, it never runs the step as anyone else.
      if (executor.kind === 'user' && isDeadGrant(e)) return this.waitForSession(run, etag, e.failure.reason);
      return this.failed(run, etag, index, delivery, stepFailure(e, 'token'), executedAs);
    }
    const accessToken = tokens.accessToken;

    let inputs: Record<string, unknown>;
    try {
      inputs = renderActionInputs(action, stepDef.inputs ?? {}, { event: scopeEventOf(run), form: run.form ?? {} });
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
        event: scopeEventOf(run),
        inputs,
        idempotencyKey: `${run.id}:${stepDef.id}`,
        causedBy: { runId: run.id, processId: run.processId, depth: (run.event?.causedBy?.depth ?? 0) + 1 },
        // Graph's claims challenge (continuous access evaluation): a token with those claims, once per Graph call.
        answerClaimsChallenge: tokens.withClaims,
        trace: span.ref,
        traceIds,
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

  /**
   * The executor's access token and how to answer a claims challenge: a connection's from the broker, the user's
   * On-Behalf-Of from the token their latest call left for the run (none left: their session is over).
   */
  private async stepTokens(run: Run, executor: Executor, delivery: Delivery, span: ActiveSpan): Promise<StepTokens> {
    if (executor.kind === 'connection') {
      const ref: ConnectionRef = { tenantId: run.tenantId, id: executor.connection.id, objectId: executor.connection.account.objectId };
      const trace = span.ref;
      return {
        accessToken: await this.withRetries(delivery, async () => (await this.deps.broker.getAccessToken(ref, { trace })).token),
        withClaims: async (claims) => (await this.deps.broker.getAccessToken(ref, { claims, trace })).token,
      };
    }
    const assertion = await this.deps.sessions.get(run.tenantId, run.id);
    if (!assertion)
      throw new TokenAcquisitionError({ kind: 'dead_grant', reason: userSessionEndedReason('no token of theirs is kept for this run') });
    return {
      accessToken: await this.withRetries(delivery, async () => (await this.deps.userTokens.graphToken(assertion)).token),
      withClaims: async (claims) => (await this.deps.userTokens.graphToken(assertion, { claims })).token,
    };
  }

  /** A token, transient failures retried here (token-retry.ts) before the message is abandoned. */
  private async withRetries(delivery: Delivery, get: () => Promise<string>): Promise<string> {
    const policy = { ...defaultTokenRetry, ...this.deps.tokenRetry };
    for (let attempt = 1; ; attempt++) {
      try {
        return await get();
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
    if (failure.kind === 'dead-grant' && executedAs.kind === 'connection') this.executors.forget(run.tenantId); // the connection's status changed
    if (failure.kind !== 'transient') return this.finish(run, etag, index, { status: 'failed', error: failure.reason, executedAs });
    // Abandoned: Service Bus redelivers it, unless this was the last delivery, which fails the step first.
    const next = afterTransientFailure(delivery, failure.reason);
    if (next.kind === 'give-up') await this.finish(run, etag, index, { status: 'failed', error: next.reason, executedAs });
    throw new TransientStepError(failure.reason);
  }

  /** Records the step's outcome, then either enqueues the next step or closes the run (and drops its user's token). */
  private async finish(run: Run, etag: string, index: number, outcome: StepOutcome): Promise<void> {
    const next = withOutcome(run, index, outcome, this.now());
    await this.deps.runs.replace(next, etag);
    if (next.status !== 'running' && next.kind === 'user') await this.deps.sessions.delete(next.tenantId, next.id);
    await this.enqueueNext(next, index);
  }

  /**
   * A form step of a user run: the run waits until its initiator submits it. Their token is dropped now (the
   * submission brings a new one); nothing is enqueued, the submission enqueues what follows.
   */
  private async waitForForm(run: Run, etag: string, index: number, userObjectId: string): Promise<void> {
    await this.deps.sessions.delete(run.tenantId, run.id);
    const next: Run = {
      ...withStep(run, index, { status: 'waiting', startedAt: this.now() }),
      status: 'waiting',
      waitingFor: { stepId: run.steps[index].id, userObjectId },
    };
    await this.deps.runs.replace(next, etag);
  }

  /** The user's session is over before an unelevated step: the run waits for `POST runs/{id}/resume` with a fresh token. */
  private async waitForSession(run: Run, etag: string, reason: string): Promise<void> {
    await this.deps.sessions.delete(run.tenantId, run.id);
    await this.deps.runs.replace({ ...run, status: 'waiting', waitingFor: { reason: 'user_session' }, reason }, etag);
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

import type { ActionDefinition } from '../actions/action';
import { renderActionInputs } from '../actions/templates';
import type { MessageSender } from '../adapters/message-queue';
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
import { performance } from 'node:perf_hooks';
import type { RunRepository } from './run-repository';
import { sendSteps, type StepMessage } from './step-message';
import { nextStepIndex, withOutcome, withStep, type StepOutcome } from './step-outcome';
import { inRunSession, planDelivery, planStep, stepFailure, type Delivery, type DeliveryPlan, type StepFailure } from './step-plan';
import { defaultStepRetry, nextStepRetry, type StepRetryPolicy } from './step-retry-schedule';
import { defaultTokenRetry, tokenRetryDelay, type TokenRetryPolicy } from './token-retry';
import { tenantNotRegisteredMessage, type TenantAccess } from '../tenants/tenant-access';
import { cannotOpenAddressedItemMessage, otherItemAddressed, readCheck } from './item-read-check';

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

/** Why a run whose data overflows the stack (RangeError) when copied or written fails: it would on every delivery. */
const nestedTooDeeply = "The run's data is nested too deeply to process.";

/** By name: an error from another realm (structuredClone's, in a VM context) is not `instanceof` this realm's classes. */
const isStackOverflow = (e: unknown): boolean => typeof e === 'object' && e !== null && (e as { name?: unknown }).name === 'RangeError';

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
  /** The registry: a step of a tenant no longer registered fails its run instead of running. */
  tenants?: Pick<TenantAccess, 'isServed'>;
  /** The time recorded on steps and used for scheduled retries (a simulated clock in tests). */
  now?: () => Date;
  /** Tenant connection lists are reused this long (ms): a burst of steps must not query Tables per step. */
  connectionCacheMs?: number;
  tokenRetry?: Partial<TokenRetryPolicy>;
  /** Scheduled retries of steps that failed transiently (STEP_RETRY_MAX_TOTAL_MINUTES sets `maxTotalMs`). */
  stepRetry?: Partial<StepRetryPolicy>;
  /**
   * How long one invocation goes on with a run's next steps (STEP_BATCH_BUDGET_SECONDS, in ms): no new step starts
   * after it; 0 runs one step per message. The first step of a message always runs.
   */
  batchBudgetMs?: number;
  /** Milliseconds on a monotonic clock, for the batch budget (performance.now; tests pass their own). */
  elapsedMs?: () => number;
}

/**
 * The run a batch works on as it is in memory, and the ETag of the row it was read or last written as. `unsaved`:
 * memory holds outcomes not written yet (they go with the next write, which is conditional on `etag`).
 */
interface Batch {
  run: Run;
  etag: string;
  unsaved: boolean;
  /** A write of the run failed: whether it landed is unknown, so the message is abandoned as after a crash. */
  writeFailed?: boolean;
  retry?: ScheduledRetry;
}

/** A step that failed transiently and is tried again by a scheduled message (for the handler's log line). */
export interface ScheduledRetry {
  stepIndex: number;
  attempt: number;
  nextAttemptAt: string;
  /** The classified reason (never a raw error text from outside the app). */
  reason: string;
}

/** What handling a message did that its handler reports. */
export interface StepsHandled {
  retry?: ScheduledRetry;
}

/** How a step ended for its batch: `next` the run may go on with the next step here; `stop` this message is done. */
type StepEnd = 'next' | 'stop';

/** The default STEP_BATCH_BUDGET_SECONDS, in ms. */
export const defaultBatchBudgetMs = 20_000;

/**
 * Executes the steps of a run. A message names the step to start with; the run row is read once, and the run's
 * consecutive steps then execute in this invocation while the batch budget lasts (issue 15): recording one step's
 * outcome and marking the next one running is one conditional write (the ETag of the previous write). What a step
 * means for the run is planned first (step-plan.ts: poison, nothing to do, already done, fail, skip, wait, or run
 * it); running it resolves who executes it (executor.ts), gets that identity's access token, marks the step running
 * (written before the action is called, so a redelivered message never repeats an action whose outcome was not
 * recorded), runs the action and records the outcome with the executing identity. The next message is sent only
 * when the budget ends; a waiting run (form, user session) or a step retried later (a scheduled message,
 * step-retry-schedule.ts) ends the batch without one.
 */
export class StepRunner {
  private readonly definitions = new Map<string, ProcessDefinition>();
  private readonly executors: ExecutorResolver;
  private readonly stepRetry: StepRetryPolicy;

  constructor(private readonly deps: StepRunnerDeps) {
    this.executors = new ExecutorResolver(deps.connections, deps.connectionCacheMs ?? 5000);
    this.stepRetry = { ...defaultStepRetry, ...deps.stepRetry };
  }

  private date() {
    return this.deps.now?.() ?? new Date();
  }

  private now() {
    return this.date().toISOString();
  }

  private elapsed() {
    return this.deps.elapsedMs?.() ?? performance.now();
  }

  async handle(message: StepMessage, delivery: Delivery): Promise<StepsHandled> {
    const loaded = inRunSession(message, delivery) ? await this.deps.runs.getWithEtag(message.tenantId, message.runId) : undefined;
    const plan = planDelivery(message, delivery, loaded?.run);
    if (plan.kind === 'poison') throw new PoisonMessageError(plan.reason);
    if (plan.kind === 'nothing-to-do' || !loaded) return {};

    const batch: Batch = { ...loaded, unsaved: false };
    if (this.deps.tenants && !(await this.deps.tenants.isServed(message.tenantId))) {
      await this.finish(batch, message.stepIndex, { status: 'failed', error: tenantNotRegisteredMessage(message.tenantId) });
      return {};
    }
    try {
      await this.runBatch(batch, message, plan, delivery);
    } catch (e) {
      // Data nested so deeply that copying it overflows the stack fails the same way on every delivery.
      const poison = isStackOverflow(e) ? new PoisonMessageError(nestedTooDeeply) : e;
      if (poison instanceof PoisonMessageError && !batch.writeFailed) await this.endPoisoned(batch, message.stepIndex, poison.reason);
      throw poison;
    }
    return batch.retry ? { retry: batch.retry } : {};
  }

  /** A run whose message is poison ends `failed` with the reason (the message is dead-lettered with it too). */
  private async endPoisoned(batch: Batch, index: number, reason: string): Promise<void> {
    if (batch.run.status !== 'running' || !batch.run.steps[index]) return;
    try {
      await this.finish(batch, index, { status: 'failed', error: reason });
    } catch (e) {
      if (!isStackOverflow(e)) return; // the dead letter still records why
      // The run's own data cannot even be serialized (the write failed before reaching Tables): it is dropped.
      const { inputs: _inputs, ...rest } = batch.run;
      batch.run = { ...rest, ...(rest.event ? { event: { ...rest.event, data: {} } } : {}) };
      batch.writeFailed = false;
      await this.finish(batch, index, { status: 'failed', error: `${reason} Its data was dropped from the record.` }).catch(
        () => undefined,
      );
    }
  }

  /** Runs the message's step and, while the budget lasts, the run's next ones. */
  private async runBatch(batch: Batch, message: StepMessage, plan: DeliveryPlan, delivery: Delivery): Promise<void> {
    const budgetEnds = this.elapsed() + (this.deps.batchBudgetMs ?? defaultBatchBudgetMs);
    let index = message.stepIndex;
    let current: DeliveryPlan = plan;
    for (let first = true; ; first = false) {
      let end: StepEnd;
      try {
        end = await this.step(batch, index, current, delivery, first);
      } catch (e) {
        if (first || batch.writeFailed) throw e;
        // A later step of the batch failed unexpectedly while it was prepared (Tables, Key Vault...): what the batch
        // did is written, and the step gets a message of its own, whose deliveries retry it.
        await this.close(batch, index - 1);
        return;
      }
      if (end === 'stop') return;
      const next = nextStepIndex(batch.run, index);
      if (next === undefined || this.elapsed() >= budgetEnds) return this.close(batch, index);
      // The next step, planned on the run as this batch holds it (read once, kept current by its own writes).
      current = planDelivery({ ...message, stepIndex: next }, delivery, batch.run);
      index = next;
    }
  }

  /** One step of the batch. Only the message's own step may be poison: a later one goes back to the queue as its own message. */
  private async step(batch: Batch, index: number, plan: DeliveryPlan, delivery: Delivery, first: boolean): Promise<StepEnd> {
    switch (plan.kind) {
      case 'poison':
      case 'nothing-to-do':
        if (first) throw new PoisonMessageError(plan.reason); // not reached: handle() returns before (kept for the types)
        await this.close(batch, index - 1);
        return 'stop';
      case 'already-done':
        // Done by an earlier delivery, whose batch may have been cut off before it sent a message: go on from here.
        return 'next';
      case 'fail-run':
        return this.finish(batch, index, { status: 'failed', error: plan.reason });
      case 'plan-step':
        break;
    }
    const { run } = batch;
    const process = await this.definition(run);
    const stepPlan = planStep(run, plan.step, process);
    switch (stepPlan.kind) {
      case 'poison':
        if (first) throw new PoisonMessageError(stepPlan.reason);
        await this.close(batch, index - 1);
        return 'stop';
      case 'fail-run':
        return this.finish(batch, index, { status: 'failed', error: stepPlan.reason });
      case 'skip':
        return this.finish(batch, index, { status: 'skipped', summary: stepPlan.reason });
      case 'wait-for-form':
        return this.waitForForm(batch, index, stepPlan.userObjectId);
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
          this.runStep(batch, index, process, stepPlan.definition, delivery, span),
        );
      }
    }
  }

  private async runStep(
    batch: Batch,
    index: number,
    process: ProcessDefinition,
    stepDef: StepDefinition,
    delivery: Delivery,
    span: ActiveSpan,
  ): Promise<StepEnd> {
    const { run } = batch;
    const executor = await this.executors.resolve(run.tenantId, process, stepDef);
    if (executor.kind === 'none') return this.finish(batch, index, { status: 'failed', error: executor.reason });
    if (executor.kind === 'user' && !run.initiatedBy) {
      return this.finish(batch, index, { status: 'failed', error: 'Only a run a user started can run steps as its user.' });
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
    if (!action) return this.finish(batch, index, { status: 'failed', error: `Unknown action "${stepDef.action}".`, executedAs });

    let tokens: StepTokens;
    try {
      tokens = await this.stepTokens(run, executor, delivery, span);
    } catch (e) {
      // The user's session is over: the run waits for them, it never runs the step as anyone else.
      if (executor.kind === 'user' && isDeadGrant(e)) return this.waitForSession(batch, e.failure.reason);
      return this.failed(batch, index, stepFailure(e, 'token'), executedAs);
    }

    let inputs: Record<string, unknown>;
    try {
      inputs = renderActionInputs(action, stepDef.inputs ?? {}, { event: scopeEventOf(run), form: run.form ?? {} });
    } catch (e) {
      return this.finish(batch, index, {
        status: 'failed',
        error: isStackOverflow(e) ? nestedTooDeeply : (e as Error).message,
        executedAs,
      });
    }

    if (executor.kind === 'connection' && run.kind === 'user') {
      const end = await this.checkAddressedItem(batch, index, stepDef, inputs, delivery, executedAs, span);
      if (end) return end;
    }

    // Recorded before the call, with the previous step's outcome if this batch ran it: from here on a redelivery will
    // not repeat the action. A step tried again no longer waits for its retry.
    const running = withStep(run, index, { status: 'running', startedAt: this.now(), attempts: run.steps[index].attempts + 1, executedAs });
    await this.write(
      batch,
      run.waitingFor && 'reason' in run.waitingFor && run.waitingFor.reason === 'retrying' ? withoutWaiting(running) : running,
    );

    let outcome: StepOutcome;
    try {
      const result = await action.run({
        graphBaseUrl: this.deps.graphBaseUrl,
        accessToken: tokens.accessToken,
        event: scopeEventOf(batch.run),
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
      // Not done, so it may run again: back to pending (written with the retry, in one write).
      if (failure.kind === 'transient') batch.run = withStep(batch.run, index, { status: 'pending' });
      return this.failed(batch, index, failure, executedAs);
    }
    return this.finish(batch, index, outcome);
  }

  /**
   * An elevated step of a user run whose request addresses another list item than the run's subject: the user's read
   * check is repeated on that item with their own token first (as at start). Hidden from them: the step fails.
   * Answers how the step ended, or undefined to run it.
   */
  private async checkAddressedItem(
    batch: Batch,
    index: number,
    stepDef: StepDefinition,
    inputs: Record<string, unknown>,
    delivery: Delivery,
    executedAs: ExecutedAs,
    span: ActiveSpan,
  ): Promise<StepEnd | undefined> {
    const { run } = batch;
    const item = otherItemAddressed(this.deps.graphBaseUrl, stepDef.action ?? '', inputs, run.subject);
    if (!item) return undefined;
    let token: string;
    try {
      token = (await this.stepTokens(run, { kind: 'user' }, delivery, span)).accessToken;
    } catch (e) {
      if (isDeadGrant(e)) return this.waitForSession(batch, e.failure.reason);
      return this.failed(batch, index, stepFailure(e, 'token'), executedAs);
    }
    try {
      const seen = await readCheck({
        graphBaseUrl: this.deps.graphBaseUrl,
        token,
        item,
        idempotencyKey: `${run.id}:${stepDef.id}:read-check`,
      });
      if (seen === 'hidden') return this.finish(batch, index, { status: 'failed', error: cannotOpenAddressedItemMessage, executedAs });
    } catch (e) {
      return this.failed(batch, index, stepFailure(e, 'action'), executedAs);
    }
    return undefined;
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

  /** A token, transient failures retried here briefly (token-retry.ts) before the step is scheduled for later. */
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

  private async failed(batch: Batch, index: number, failure: StepFailure, executedAs: ExecutedAs): Promise<StepEnd> {
    const { run } = batch;
    if (failure.kind === 'dead-grant' && executedAs.kind === 'connection') this.executors.forget(run.tenantId); // the connection's status changed
    if (failure.kind !== 'transient') return this.finish(batch, index, { status: 'failed', error: failure.reason, executedAs });
    return this.retryLater(batch, index, failure, executedAs);
  }

  /**
   * A transient failure: the step is tried again by a scheduled message while the retry budget lasts, then fails
   * saying how long it was tried. The message goes out before the run row says so, so a row never shows a retry no
   * message will make; its id names the retry, so a redelivery that resends it is dropped as a duplicate.
   */
  private async retryLater(
    batch: Batch,
    index: number,
    failure: Extract<StepFailure, { kind: 'transient' }>,
    executedAs: ExecutedAs,
  ): Promise<StepEnd> {
    const { run } = batch;
    const waiting = run.waitingFor;
    const soFar = waiting && 'reason' in waiting && waiting.reason === 'retrying' && waiting.stepIndex === index ? waiting : undefined;
    const decision = nextStepRetry(this.stepRetry, soFar, this.date(), failure.reason, {
      ...(failure.retryAfterMs !== undefined ? { notBeforeMs: failure.retryAfterMs } : {}),
    });
    if (decision.kind === 'give-up') return this.finish(batch, index, { status: 'failed', error: decision.reason, executedAs });
    await sendSteps(this.deps.sender, [
      { tenantId: run.tenantId, runId: run.id, stepIndex: index, occasion: `retry-${decision.attempt}`, notBefore: decision.at },
    ]);
    const nextAttemptAt = decision.at.toISOString();
    await this.write(batch, {
      ...run,
      waitingFor: { reason: 'retrying', stepIndex: index, nextAttemptAt, attempt: decision.attempt, since: decision.since },
    });
    batch.retry = { stepIndex: index, attempt: decision.attempt, nextAttemptAt, reason: failure.reason };
    return 'stop';
  }

  /** Applies the step's outcome to the batch's run; a run that ended is written (and its user's token dropped) now. */
  private async finish(batch: Batch, index: number, outcome: StepOutcome): Promise<StepEnd> {
    const recorded = withOutcome(withoutWaiting(batch.run), index, outcome, this.now());
    batch.run = recorded;
    batch.unsaved = true;
    if (recorded.status === 'running') return 'next';
    await this.close(batch, index);
    return 'stop';
  }

  /** Ends the batch after step `index`: writes what is unsaved, drops a finished user run's token, enqueues what follows. */
  private async close(batch: Batch, index: number): Promise<void> {
    if (batch.unsaved) await this.write(batch, batch.run);
    const { run } = batch;
    if (run.status !== 'running' && run.kind === 'user') await this.deps.sessions.delete(run.tenantId, run.id);
    const next = nextStepIndex(run, index);
    if (next !== undefined) await sendSteps(this.deps.sender, [{ tenantId: run.tenantId, runId: run.id, stepIndex: next }]);
  }

  /** Writes `run` if the row still has the batch's ETag (a stale one throws a 412: the message is redelivered). */
  private async write(batch: Batch, run: Run): Promise<void> {
    try {
      batch.etag = await this.deps.runs.replace(run, batch.etag);
    } catch (e) {
      batch.writeFailed = true;
      throw e;
    }
    batch.run = run;
    batch.unsaved = false;
  }

  /**
   * A form step of a user run: the run waits until its initiator submits it. Their token is dropped now (the
   * submission brings a new one); nothing is enqueued, the submission enqueues what follows.
   */
  private async waitForForm(batch: Batch, index: number, userObjectId: string): Promise<StepEnd> {
    const { run } = batch;
    await this.deps.sessions.delete(run.tenantId, run.id);
    await this.write(batch, {
      ...withStep(run, index, { status: 'waiting', startedAt: this.now() }),
      status: 'waiting',
      waitingFor: { stepId: run.steps[index].id, userObjectId },
    });
    return 'stop';
  }

  /** The user's session is over before an unelevated step: the run waits for `POST runs/{id}/resume` with a fresh token. */
  private async waitForSession(batch: Batch, reason: string): Promise<StepEnd> {
    const { run } = batch;
    await this.deps.sessions.delete(run.tenantId, run.id);
    await this.write(batch, { ...run, status: 'waiting', waitingFor: { reason: 'user_session' }, reason });
    return 'stop';
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

/** The run without a retry it waited for (the step ran again, or ended). */
function withoutWaiting(run: Run): Run {
  const w = run.waitingFor;
  if (!w || !('reason' in w) || w.reason !== 'retrying') return run;
  const { waitingFor: _waitingFor, ...rest } = run;
  return rest;
}

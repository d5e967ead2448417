import { performance } from 'node:perf_hooks';
import type { ActionDefinition } from '../actions/action';
import { graphSession } from '../actions/graph-session';
import { renderActionInputs } from '../actions/templates';
import type { MessageSender } from '../adapters/message-queue';
import type { ConnectionRepository } from '../connections/connection-repository';
import type { ProcessDefinition, StepDefinition } from '../processes/process-definition';
import type { ProcessRepository } from '../processes/process-repository';
import { inSpan, runSpan, type ActiveSpan } from '../shared/spans';
import { tenantNotRegisteredMessage, type TenantAccess } from '../tenants/tenant-access';
import { isDeadGrant } from '../tokens/token-errors';
import type { UserSessionStore } from '../tokens/user-session-store';
import type { ScheduledRetry, StepTransition } from './core/commands';
import { HeldRun, isStackOverflow } from './held-run';
import { inRunSession, planDelivery, planStep, type Delivery, type DeliveryPlan } from './core/delivery';
import { defaultStepRetry, type StepRetryPolicy } from './core/retry-schedule';
import { nextStepIndex } from './core/step-records';
import { stepEnded, stepFailed, stepStarts, waitForForm, waitForUserSession } from './core/steps';
import { executedAsOf, ExecutorResolver } from './executor';
import { scopeEventOf, type Run } from './run';
import type { RunRepository } from './run-repository';
import { PoisonMessageError, stepFailureOf } from './step-failure';
import type { StepMessage } from './step-message';
import { stepTokens, type StepTokens, type StepTokenSources } from './step-tokens';
import { cannotOpenAddressedItemMessage, checkAddressedItem, otherItemAddressed } from './item-read-check';

export type { Delivery } from './core/delivery';
export type { ScheduledRetry } from './core/commands';
export type { TokenRetryPolicy } from './token-retry';
export { PoisonMessageError } from './step-failure';

export interface StepRunnerDeps extends StepTokenSources {
  runs: RunRepository;
  processes: ProcessRepository;
  connections: ConnectionRepository;
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

/** What handling a message did that its handler reports. */
export interface StepsHandled {
  retry?: ScheduledRetry;
}

/** Why a run whose data overflows the stack (RangeError) when copied or written fails: it would on every delivery. */
const nestedTooDeeply = "The run's data is nested too deeply to process.";

/** The default STEP_BATCH_BUDGET_SECONDS, in ms. */
export const defaultBatchBudgetMs = 20_000;

/**
 * The executor of step messages. The run core (src/runs/core) decides every transition; this class loads the run
 * once, asks the core, and carries out its commands: writes (conditional on the ETag of the previous write), step
 * messages, the user's session. A message names the step to start with; the run's consecutive steps then execute
 * in this invocation while the batch budget lasts. Running a step resolves who executes it (executor.ts), gets that
 * identity's token (step-tokens.ts) and calls the action.
 */
export class StepRunner {
  private readonly definitions = new Map<string, ProcessDefinition>();
  private readonly executors: ExecutorResolver;
  private readonly stepRetry: StepRetryPolicy;

  constructor(private readonly deps: StepRunnerDeps) {
    this.executors = new ExecutorResolver(deps.connections, deps.connectionCacheMs ?? 5000);
    this.stepRetry = { ...defaultStepRetry, ...deps.stepRetry };
  }

  private now(): Date {
    return this.deps.now?.() ?? new Date();
  }

  private elapsed() {
    return this.deps.elapsedMs?.() ?? performance.now();
  }

  async handle(message: StepMessage, delivery: Delivery): Promise<StepsHandled> {
    const loaded = inRunSession(message, delivery) ? await this.deps.runs.getWithEtag(message.tenantId, message.runId) : undefined;
    const plan = planDelivery(message, delivery, loaded?.run);
    if (plan.kind === 'poison') throw new PoisonMessageError(plan.reason);
    if (plan.kind === 'nothing-to-do' || !loaded) return {};

    const held = new HeldRun(loaded.run, loaded.etag, {
      ...this.deps,
      forgetConnections: (tenantId) => this.executors.forget(tenantId),
    });
    if (this.deps.tenants && !(await this.deps.tenants.isServed(message.tenantId))) {
      await held.refuse(message.stepIndex, tenantNotRegisteredMessage(message.tenantId), this.now());
      return {};
    }
    try {
      await this.runBatch(held, message, plan, delivery);
    } catch (e) {
      // Data nested so deeply that copying it overflows the stack fails the same way on every delivery.
      const poison = isStackOverflow(e) ? new PoisonMessageError(nestedTooDeeply) : e;
      if (poison instanceof PoisonMessageError && !held.writeFailed) await held.refuse(message.stepIndex, poison.reason, this.now());
      throw poison;
    }
    return held.retry ? { retry: held.retry } : {};
  }

  /** Runs the message's step and, while the budget lasts, the run's next ones. */
  private async runBatch(held: HeldRun, message: StepMessage, plan: DeliveryPlan, delivery: Delivery): Promise<void> {
    const budgetEnds = this.elapsed() + (this.deps.batchBudgetMs ?? defaultBatchBudgetMs);
    let index = message.stepIndex;
    let current: DeliveryPlan = plan;
    for (let first = true; ; first = false) {
      let then: StepTransition['then'];
      try {
        then = await this.step(held, index, current, delivery, first);
      } catch (e) {
        if (first || held.writeFailed) throw e;
        // A later step of the batch failed unexpectedly while it was prepared (Tables, Key Vault...): what the batch
        // did is written, and the step gets a message of its own, whose deliveries retry it.
        return held.endAfter(index - 1);
      }
      if (then === 'stop') return;
      const next = nextStepIndex(held.run, index);
      if (next === undefined || this.elapsed() >= budgetEnds) return held.endAfter(index);
      current = planDelivery({ ...message, stepIndex: next }, delivery, held.run);
      index = next;
    }
  }

  /** One step of the batch. Only the message's own step may be poison: a later one goes back to the queue as its own message. */
  private async step(
    held: HeldRun,
    index: number,
    plan: DeliveryPlan,
    delivery: Delivery,
    first: boolean,
  ): Promise<StepTransition['then']> {
    const poison = async (reason: string) => {
      if (first) throw new PoisonMessageError(reason);
      await held.endAfter(index - 1);
      return 'stop' as const;
    };
    switch (plan.kind) {
      case 'poison':
      case 'nothing-to-do':
        return poison(plan.reason);
      case 'already-done':
        // Done by an earlier delivery, whose batch may have been cut off before it sent a message: go on from here.
        return 'next';
      case 'fail-run':
        return held.apply(stepEnded(held.run, index, { status: 'failed', error: plan.reason }, this.now()));
      case 'plan-step':
        break;
    }
    const { run } = held;
    const process = await this.definition(run);
    const stepPlan = planStep(run, plan.step, process);
    switch (stepPlan.kind) {
      case 'poison':
        return poison(stepPlan.reason);
      case 'fail-run':
        return held.apply(stepEnded(run, index, { status: 'failed', error: stepPlan.reason }, this.now()));
      case 'skip':
        return held.apply(stepEnded(run, index, { status: 'skipped', summary: stepPlan.reason }, this.now()));
      case 'wait-for-form':
        return held.apply(waitForForm(run, index, stepPlan.userObjectId, this.now()));
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
          this.runStep(held, index, process, stepPlan.definition, delivery, span),
        );
      }
    }
  }

  private async runStep(
    held: HeldRun,
    index: number,
    process: ProcessDefinition,
    stepDef: StepDefinition,
    delivery: Delivery,
    span: ActiveSpan,
  ): Promise<StepTransition['then']> {
    const { run } = held;
    const fail = (error: string, executedAs?: Run['steps'][number]['executedAs']) =>
      held.apply(stepEnded(run, index, { status: 'failed', error, ...(executedAs ? { executedAs } : {}) }, this.now()));
    const executor = await this.executors.resolve(run.tenantId, process, stepDef);
    if (executor.kind === 'none') return fail(executor.reason);
    if (executor.kind === 'user' && !run.initiatedBy) return fail('Only a run a user started can run steps as its user.');
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
    if (!action) return fail(`Unknown action "${stepDef.action}".`, executedAs);
    // The retries so far are the run's before the step was marked running (that write ends the wait for them).
    const failed = (e: unknown, during: 'token' | 'action', before: Run) => {
      const retries = { ...held.run, ...(before.waitingFor ? { waitingFor: before.waitingFor } : {}) };
      const context = { executedAs, during, retryPolicy: this.stepRetry };
      return held.apply(stepFailed(retries, index, stepFailureOf(e, during), this.now(), context));
    };

    let tokens: StepTokens;
    try {
      tokens = await stepTokens(this.deps, run, executor, delivery, span);
    } catch (e) {
      // The user's session is over: the run waits for them, it never runs the step as anyone else.
      if (executor.kind === 'user' && isDeadGrant(e)) return held.apply(waitForUserSession(run, e.failure.reason));
      return failed(e, 'token', run);
    }

    let inputs: Record<string, unknown>;
    try {
      inputs = renderActionInputs(action, stepDef.inputs ?? {}, { event: scopeEventOf(run), form: run.form ?? {} });
    } catch (e) {
      return fail(isStackOverflow(e) ? nestedTooDeeply : (e as Error).message, executedAs);
    }

    // An elevated step of a user run that addresses another list item than the run's subject: the user's read check
    // is repeated on that item with their own token first (as at start); hidden from them, the step fails.
    const other =
      executor.kind === 'connection' && run.kind === 'user'
        ? otherItemAddressed(this.deps.graphBaseUrl, action.name, inputs, run.subject)
        : undefined;
    if (other) {
      const userToken = async () => (await stepTokens(this.deps, run, { kind: 'user' }, delivery, span)).accessToken;
      const idempotencyKey = `${run.id}:${stepDef.id}:read-check`;
      const seen = await checkAddressedItem(userToken, { graphBaseUrl: this.deps.graphBaseUrl, item: other, idempotencyKey });
      if (seen.kind === 'session-ended') return held.apply(waitForUserSession(run, seen.reason));
      if (seen.kind === 'failed') return failed(seen.error, seen.during, run);
      if (seen.kind === 'hidden') return fail(cannotOpenAddressedItemMessage, executedAs);
    }

    await held.apply(stepStarts(run, index, executedAs, this.now()));
    try {
      // Graph bound to the executing identity once per step: the action never sees the token.
      const graph = graphSession({
        graphBaseUrl: this.deps.graphBaseUrl,
        accessToken: tokens.accessToken,
        idempotencyKey: `${run.id}:${stepDef.id}`,
        causedBy: { runId: run.id, processId: run.processId, depth: (run.event?.causedBy?.depth ?? 0) + 1 },
        // Graph's claims challenge (continuous access evaluation): a token with those claims, once per Graph call.
        answerClaimsChallenge: tokens.withClaims,
        trace: span.ref,
        traceIds,
      });
      const result = await action.run({ graph, event: scopeEventOf(held.run), inputs });
      return held.apply(stepEnded(held.run, index, { status: 'succeeded', summary: result.summary, executedAs }, this.now()));
    } catch (e) {
      return failed(e, 'action', run);
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

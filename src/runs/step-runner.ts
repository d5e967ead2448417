import { performance } from 'node:perf_hooks';
import type { ActionDefinition } from '../actions/action';
import { graphSession } from '../actions/graph-session';
import { renderActionInputs } from '../actions/templates';
import type { MessageSender } from '../adapters/message-queue';
import type { ConnectionRepository } from '../connections/connection-repository';
import type { ProcessDefinition, StepDefinition } from '../processes/process-definition';
import type { ProcessRepository } from '../processes/process-repository';
import { inSpan, runSpan, type ActiveSpan } from '../shared/spans';
import { isDeadGrant } from '../tokens/token-errors';
import type { UserSessionStore } from '../tokens/user-session-store';
import type { ScheduledRetry, StepTransition } from './core/commands';
import { inRunSession, planDelivery, planStep, type Delivery, type DeliveryPlan } from './core/delivery';
import { defaultStepRetry, type StepRetryPolicy } from './core/retry-schedule';
import { nextStepIndex } from './core/step-records';
import { batchEnds, stepEnded, stepFailed, stepStarts, waitForForm, waitForUserSession } from './core/steps';
import { executedAsOf, ExecutorResolver } from './executor';
import { scopeEventOf, type Run } from './run';
import type { RunRepository } from './run-repository';
import { PoisonMessageError, stepFailureOf } from './step-failure';
import { sendSteps, type StepMessage } from './step-message';
import { stepTokens, type StepTokens, type StepTokenSources } from './step-tokens';
import { tenantNotRegisteredMessage, type TenantAccess } from '../tenants/tenant-access';
import { cannotOpenAddressedItemMessage, otherItemAddressed, readCheck } from './item-read-check';

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

/** By name: an error from another realm (structuredClone's, in a VM context) is not `instanceof` this realm's classes. */
const isStackOverflow = (e: unknown): boolean => typeof e === 'object' && e !== null && (e as { name?: unknown }).name === 'RangeError';

/** The default STEP_BATCH_BUDGET_SECONDS, in ms. */
export const defaultBatchBudgetMs = 20_000;

/**
 * The run as a batch holds it: read once, kept current by its own writes. `unsaved`: outcomes not written yet (they
 * go with the next write, conditional on `etag`). `writeFailed`: whether a write landed is unknown, so the message
 * is abandoned as after a crash.
 */
interface Held {
  run: Run;
  etag: string;
  unsaved: boolean;
  writeFailed: boolean;
  retry?: ScheduledRetry;
}

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

    const held: Held = { ...loaded, unsaved: false, writeFailed: false };
    if (this.deps.tenants && !(await this.deps.tenants.isServed(message.tenantId))) {
      const error = tenantNotRegisteredMessage(message.tenantId);
      await this.apply(held, stepEnded(held.run, message.stepIndex, { status: 'failed', error }, this.now()));
      return {};
    }
    try {
      await this.runBatch(held, message, plan, delivery);
    } catch (e) {
      // Data nested so deeply that copying it overflows the stack fails the same way on every delivery.
      const poison = isStackOverflow(e) ? new PoisonMessageError(nestedTooDeeply) : e;
      if (poison instanceof PoisonMessageError && !held.writeFailed) await this.endPoisoned(held, message.stepIndex, poison.reason);
      throw poison;
    }
    return held.retry ? { retry: held.retry } : {};
  }

  /** A run whose message is poison ends `failed` with the reason (the message is dead-lettered with it too). */
  private async endPoisoned(held: Held, index: number, reason: string): Promise<void> {
    if (held.run.status !== 'running' || !held.run.steps[index]) return;
    try {
      await this.apply(held, stepEnded(held.run, index, { status: 'failed', error: reason }, this.now()));
    } catch (e) {
      if (!isStackOverflow(e)) return; // the dead letter still records why
      // The run's own data cannot even be serialized (the write failed before reaching Tables): it is dropped.
      const { inputs: _inputs, ...rest } = held.run;
      const run = { ...rest, ...(rest.event ? { event: { ...rest.event, data: {} } } : {}) };
      held.writeFailed = false;
      const error = `${reason} Its data was dropped from the record.`;
      await this.apply(held, stepEnded(run, index, { status: 'failed', error }, this.now())).catch(() => undefined);
    }
  }

  /** Runs the message's step and, while the budget lasts, the run's next ones. */
  private async runBatch(held: Held, message: StepMessage, plan: DeliveryPlan, delivery: Delivery): Promise<void> {
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
        return this.carryOut(held, batchEnds(held.run, index - 1, held.unsaved));
      }
      if (then === 'stop') return;
      const next = nextStepIndex(held.run, index);
      if (next === undefined || this.elapsed() >= budgetEnds) return this.carryOut(held, batchEnds(held.run, index, held.unsaved));
      current = planDelivery({ ...message, stepIndex: next }, delivery, held.run);
      index = next;
    }
  }

  /** One step of the batch. Only the message's own step may be poison: a later one goes back to the queue as its own message. */
  private async step(held: Held, index: number, plan: DeliveryPlan, delivery: Delivery, first: boolean): Promise<StepTransition['then']> {
    const poison = async (reason: string) => {
      if (first) throw new PoisonMessageError(reason);
      await this.carryOut(held, batchEnds(held.run, index - 1, held.unsaved));
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
        return this.apply(held, stepEnded(held.run, index, { status: 'failed', error: plan.reason }, this.now()));
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
        return this.apply(held, stepEnded(run, index, { status: 'failed', error: stepPlan.reason }, this.now()));
      case 'skip':
        return this.apply(held, stepEnded(run, index, { status: 'skipped', summary: stepPlan.reason }, this.now()));
      case 'wait-for-form':
        return this.apply(held, waitForForm(run, index, stepPlan.userObjectId, this.now()));
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
    held: Held,
    index: number,
    process: ProcessDefinition,
    stepDef: StepDefinition,
    delivery: Delivery,
    span: ActiveSpan,
  ): Promise<StepTransition['then']> {
    const { run } = held;
    const fail = (error: string, executedAs?: Run['steps'][number]['executedAs']) =>
      this.apply(held, stepEnded(run, index, { status: 'failed', error, ...(executedAs ? { executedAs } : {}) }, this.now()));
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
    const failed = (e: unknown, during: 'token' | 'action', before: Run) =>
      this.apply(
        held,
        // The retries so far are the run's before the step was marked running (that write ends the wait for them).
        stepFailed(
          { ...held.run, ...(before.waitingFor ? { waitingFor: before.waitingFor } : {}) },
          index,
          stepFailureOf(e, during),
          this.now(),
          {
            executedAs,
            during,
            retryPolicy: this.stepRetry,
          },
        ),
      );

    let tokens: StepTokens;
    try {
      tokens = await stepTokens(this.deps, run, executor, delivery, span);
    } catch (e) {
      // The user's session is over: the run waits for them, it never runs the step as anyone else.
      if (executor.kind === 'user' && isDeadGrant(e)) return this.apply(held, waitForUserSession(run, e.failure.reason));
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
      let userToken: string;
      try {
        userToken = (await stepTokens(this.deps, run, { kind: 'user' }, delivery, span)).accessToken;
      } catch (e) {
        if (isDeadGrant(e)) return this.apply(held, waitForUserSession(run, e.failure.reason));
        return failed(e, 'token', run);
      }
      try {
        const seen = await readCheck({
          graphBaseUrl: this.deps.graphBaseUrl,
          token: userToken,
          item: other,
          idempotencyKey: `${run.id}:${stepDef.id}:read-check`,
        });
        if (seen === 'hidden') return fail(cannotOpenAddressedItemMessage, executedAs);
      } catch (e) {
        return failed(e, 'action', run);
      }
    }

    await this.apply(held, stepStarts(run, index, executedAs, this.now()));
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
      return this.apply(held, stepEnded(held.run, index, { status: 'succeeded', summary: result.summary, executedAs }, this.now()));
    } catch (e) {
      return failed(e, 'action', run);
    }
  }

  /** Takes the core's transition: the run as the batch holds it, then its commands carried out. */
  private async apply(held: Held, transition: StepTransition): Promise<StepTransition['then']> {
    if (transition.run !== held.run) held.unsaved = true; // until a writeRun command stores it
    held.run = transition.run;
    await this.carryOut(held, transition.commands);
    return transition.then;
  }

  private async carryOut(held: Held, commands: StepTransition['commands']): Promise<void> {
    const { run } = held;
    for (const command of commands) {
      switch (command.kind) {
        case 'writeRun':
          // Conditional on the batch's ETag (a stale one throws a 412: the message is redelivered).
          try {
            held.etag = await this.deps.runs.replace(command.run, held.etag);
          } catch (e) {
            held.writeFailed = true;
            throw e;
          }
          held.run = command.run;
          held.unsaved = false;
          break;
        case 'sendStep':
          await sendSteps(this.deps.sender, [{ ...command.step, trace: runSpan(run) }]);
          break;
        case 'scheduleRetry':
          await sendSteps(this.deps.sender, [{ ...command.step, trace: runSpan(run) }]);
          held.retry = command.retry;
          break;
        case 'dropUserSession':
          await this.deps.sessions.delete(run.tenantId, run.id);
          break;
        case 'refreshConnections':
          this.executors.forget(run.tenantId);
          break;
        case 'storeUserSession':
          throw new Error('a step never stores a user session: only the user routes have the caller token');
      }
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

import { z } from 'zod';
import { ActionError } from '../actions/action';
import type { MessageSender } from '../adapters/message-queue';
import { validateFormValues } from '../processes/form-values';
import type { ProcessDefinition } from '../processes/process-definition';
import type { ProcessRepository } from '../processes/process-repository';
import { AppError } from '../shared/errors';
import { inSpan, type SpanRef } from '../shared/spans';
import type { Caller } from '../shared/user';
import type { UserSessionStore } from '../tokens/user-session-store';
import type { UserTokens } from '../tokens/user-tokens';
import {
  formSubmitted,
  newRun,
  noFormWaitingMessage,
  notWaitingForSessionMessage,
  queueingFailed,
  resumed,
  waitingForm,
  waitsForUserSession,
} from './core/runs';
import { readCheck, type ReadCheck } from './item-read-check';
import { carryOut, runNotFound, transition } from './user-run-commands';
import { parse, startRunSchema, type WaitingFormView } from './user-run-requests';
import type { ItemRef, Run } from './run';
import { newRunId, type RunRepository } from './run-repository';

/** Why a user may not start a process on an item (contract): elevation never reaches items hidden from them. */
export const cannotOpenItemMessage = 'You cannot start this process on an item you cannot open.';
const processNotFound = () => new AppError('not_found', 'Process not found.');

export interface UserRunsDeps {
  processes: Pick<ProcessRepository, 'get' | 'getVersion'>;
  runs: RunRepository;
  sessions: Pick<UserSessionStore, 'put' | 'delete'>;
  userTokens: Pick<UserTokens, 'graphToken' | 'assertConfigured'>;
  sender: MessageSender;
  graphBaseUrl: string;
  now?: () => Date;
  fetch?: typeof fetch;
  /** Runs one user may have running or waiting at once (QUOTA_USER_ACTIVE_RUNS); unbounded when absent. */
  maxActiveRuns?: number;
}

/**
 * What a user does with user processes: start one on an item they can open, submit its forms, resume
 * it after their session ran out, and read their own runs. Every answer about another user's run is 404, as for
 * a run that does not exist.
 */
export class UserRuns {
  constructor(private readonly deps: UserRunsDeps) {}

  private now(): Date {
    return this.deps.now?.() ?? new Date();
  }

  /** @param parent the starting request's trace (its `traceparent`), which the run continues; else a new trace. */
  async start(caller: Caller, processId: string, body: unknown, parent?: SpanRef): Promise<{ runId: string }> {
    const { tenantId } = caller.user;
    const record = await this.deps.processes.get(tenantId, processId);
    const published = record?.published;
    if (!published || published.definition.kind !== 'user') throw processNotFound();
    const { subject, inputs: typed } = parse(startRunSchema, body);
    // Only what the designer declared, each of its type (a choice one of its options): 422 otherwise.
    const checked = validateFormValues(published.definition.inputs ?? [], typed ?? {}, 'inputs');
    if (!checked.ok) throw new AppError('invalid', 'The inputs are not valid.', { details: checked.errors });
    const inputs = Object.keys(checked.values).length ? checked.values : undefined;
    await this.checkActiveRuns(caller);
    await this.checkCanOpen(caller, subject);

    const at = this.now();
    const id = newRunId(at);
    const ids = { 'tenant.id': tenantId, 'process.id': processId, 'process.version': published.version, 'run.id': id };
    return inSpan('run creation', parent, ids, (span) =>
      this.create(caller, {
        id,
        at,
        processId,
        version: published.version,
        definition: published.definition,
        subject,
        inputs,
        trace: span.ref,
      }),
    );
  }

  private async create(
    caller: Caller,
    r: {
      id: string;
      at: Date;
      processId: string;
      version: number;
      definition: ProcessDefinition;
      subject: ItemRef;
      inputs: Record<string, unknown> | undefined;
      trace: SpanRef;
    },
  ): Promise<{ runId: string }> {
    const { tenantId } = caller.user;
    const { run, commands } = newRun(
      {
        id: r.id,
        tenantId,
        kind: 'user',
        process: { id: r.processId, version: r.version, steps: r.definition.steps },
        subject: r.subject,
        initiatedBy: { objectId: caller.user.objectId, username: caller.user.username },
        ...(r.inputs ? { inputs: r.inputs } : {}),
        trace: { traceId: r.trace.traceId, spanId: r.trace.spanId },
      },
      r.at,
    );
    // The session first: the first step may run the moment its message is sent.
    await this.deps.sessions.put(tenantId, run.id, caller.assertion);
    try {
      await this.deps.runs.create(run);
      await carryOut(this.deps, caller, run, commands);
    } catch (e) {
      const failed = queueingFailed(run, this.now());
      await this.deps.sessions.delete(tenantId, run.id).catch(() => undefined);
      await this.deps.runs.update(tenantId, run.id, () => failed.run).catch(() => undefined);
      throw e;
    }
    return { runId: run.id };
  }

  /** Submits the form step the caller's run waits for; later steps continue with the caller's (new) token. */
  async submit(caller: Caller, runId: string, stepId: string, body: unknown): Promise<{ runId: string; status: Run['status'] }> {
    const run = await this.ownRun(caller, runId);
    if (waitingForm(run, stepId) === undefined) throw new AppError('not_found', noFormWaitingMessage);
    const definition = await this.definition(run);
    const step = definition.steps.find((s) => s.id === stepId && s.type === 'form');
    if (!step) throw new AppError('not_found', noFormWaitingMessage);
    const { values } = parse(z.strictObject({ values: z.record(z.string(), z.unknown()) }), body);
    const checked = validateFormValues(step.fields ?? [], values);
    if (!checked.ok) throw new AppError('invalid', 'The form is not valid.', { details: checked.errors });

    const by = { objectId: caller.user.objectId, username: caller.user.username };
    // Submitted twice at once: the second finds nothing waiting.
    const next = await transition(this.deps, caller, run, 'not_found', (current) =>
      formSubmitted(current, { stepId, values: checked.values, by }, this.now()),
    );
    return { runId: run.id, status: next.status };
  }

  /**
   * The form the caller's run waits for, from the process version the run executes: what the page renders for them.
   * 404 for anyone but the initiator, and for a run that waits for no form.
   */
  async waitingFormOf(caller: Caller, runId: string): Promise<WaitingFormView> {
    const run = await this.ownRun(caller, runId);
    const waiting = run.waitingFor;
    if (waiting?.kind !== 'form' || waitingForm(run, waiting.stepId) === undefined) throw new AppError('not_found', noFormWaitingMessage);
    const step = (await this.definition(run)).steps.find((s) => s.id === waiting.stepId && s.type === 'form');
    if (!step) throw new AppError('not_found', noFormWaitingMessage);
    return { runId: run.id, stepId: step.id, ...(step.name ? { name: step.name } : {}), fields: step.fields ?? [] };
  }

  /** Continues a run that waits for the caller's session, with the fresh token of this call. */
  async resume(caller: Caller, runId: string): Promise<{ runId: string }> {
    const run = await this.ownRun(caller, runId);
    if (!waitsForUserSession(run)) throw new AppError('conflict', notWaitingForSessionMessage);
    // The new token must be exchangeable, or the run would only wait again (a TokenAcquisitionError answers as its code).
    await this.deps.userTokens.graphToken(caller.assertion);
    await transition(this.deps, caller, run, 'conflict', (current) => resumed(current, this.now()));
    return { runId: run.id };
  }

  /** A run the caller may read: their own, or any run of the tenant for an admin. */
  async get(caller: Caller, runId: string): Promise<Run> {
    const run = await this.deps.runs.get(caller.user.tenantId, runId);
    if (!run || (!caller.isAdmin && run.initiatedBy?.objectId !== caller.user.objectId)) throw runNotFound();
    return run;
  }

  async list(caller: Caller, query: { initiatedBy?: 'me'; processId?: string; limit?: number }): Promise<Run[]> {
    if (query.initiatedBy !== 'me' && !caller.isAdmin) {
      throw new AppError('forbidden', 'Only administrators list every run; list your own with initiatedBy=me.');
    }
    const { initiatedBy: _, ...rest } = query;
    return this.deps.runs.list(caller.user.tenantId, {
      ...rest,
      ...(query.initiatedBy === 'me' ? { initiatedBy: caller.user.objectId } : {}),
    });
  }

  /**
   * A user may have at most `maxActiveRuns` runs running or waiting at once (each holds Table rows and maybe a form):
   * 429, since finishing or waiting for one frees a place. Counted from Tables, so it holds across instances (two
   * starts at the same moment may both pass).
   */
  private async checkActiveRuns(caller: Caller): Promise<void> {
    const max = this.deps.maxActiveRuns;
    if (max === undefined) return;
    const active = await this.deps.runs.countActive(caller.user.tenantId, caller.user.objectId, max);
    if (active >= max) {
      throw new AppError(
        'throttled',
        `You have ${max} runs running or waiting, the most one user may have at once (QUOTA_USER_ACTIVE_RUNS). Finish or wait for one, then try again.`,
        { retryAfterSeconds: 60 },
      );
    }
  }

  /** The caller's own run: anyone else's (admins included: only the initiator acts on it) is 404. */
  private async ownRun(caller: Caller, runId: string): Promise<Run> {
    const run = await this.deps.runs.get(caller.user.tenantId, runId);
    if (!run || run.kind !== 'user' || run.initiatedBy?.objectId !== caller.user.objectId) throw runNotFound();
    return run;
  }

  private async definition(run: Run): Promise<ProcessDefinition> {
    const definition = await this.deps.processes.getVersion(run.tenantId, run.processId, run.processVersion);
    if (!definition) throw runNotFound();
    return definition;
  }

  /**
   * Reads the item with the caller's own Graph token (On-Behalf-Of) before anything runs: a user who cannot open it
   * (Graph 403 or 404) may not start a process on it, elevated steps or not.
   */
  private async checkCanOpen(caller: Caller, subject: ItemRef): Promise<void> {
    this.deps.userTokens.assertConfigured();
    // A TokenAcquisitionError answers as its code: 401 when the user's session is over (get a new token).
    const { token } = await this.deps.userTokens.graphToken(caller.assertion);
    let seen: ReadCheck;
    try {
      seen = await readCheck({
        graphBaseUrl: this.deps.graphBaseUrl,
        token,
        item: subject,
        idempotencyKey: `read-check:${caller.user.objectId}:${subject.siteId}:${subject.listId}:${subject.itemId}`,
        ...(this.deps.fetch ? { fetch: this.deps.fetch } : {}),
      });
    } catch (e) {
      if (e instanceof ActionError && e.kind === 'permanent' && e.status === 400) {
        throw new AppError('invalid', 'The request is not valid.', {
          details: [{ path: 'subject', message: 'Microsoft Graph does not accept this item reference' }],
        });
      }
      throw new AppError('unavailable', 'Microsoft Graph could not be asked whether you can open the item; try again shortly.', {
        cause: e,
      });
    }
    if (seen === 'hidden') throw new AppError('forbidden', cannotOpenItemMessage);
  }
}

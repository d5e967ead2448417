import type { MessageSender } from '../adapters/message-queue';
import { isConcurrencyConflict } from '../adapters/tables';
import { AppError, type ErrorCode } from '../shared/errors';
import { runSpan } from '../shared/spans';
import type { Caller } from '../shared/user';
import type { UserSessionStore } from '../tokens/user-session-store';
import { isRefusal, type Refusal, type RunCommand, type Transition } from './core/commands';
import type { Run } from './run';
import type { RunRepository } from './run-repository';
import { sendSteps } from './step-message';

/** Where the user routes carry out the run core's commands: the run's row, the step queue, the caller's token. */
export interface UserRunTargets {
  runs: Pick<RunRepository, 'getWithEtag' | 'replace'>;
  sender: MessageSender;
  sessions: Pick<UserSessionStore, 'put' | 'delete'>;
}

export const runNotFound = () => new AppError('not_found', 'Run not found.');

/** A write refused because the run changed since it was read: the decision is made again. */
class StaleRun extends Error {}

/**
 * Applies the core's decision on the run as stored and carries out its commands; the write is conditional on the
 * ETag read, so a concurrent change makes the decision again on the run as it is then.
 */
export async function transition(
  targets: UserRunTargets,
  caller: Caller,
  run: Run,
  refusedAs: ErrorCode,
  decide: (current: Run) => Transition | Refusal,
): Promise<Run> {
  for (let attempt = 0; attempt < 10; attempt++) {
    const loaded = await targets.runs.getWithEtag(run.tenantId, run.id);
    if (!loaded) throw runNotFound();
    const decision = decide(loaded.run);
    if (isRefusal(decision)) throw new AppError(refusedAs, decision.refused);
    try {
      await carryOut(targets, caller, loaded.run, decision.commands, loaded.etag);
      return decision.run;
    } catch (e) {
      if (e instanceof StaleRun) continue;
      // The token was stored for a run that stays waiting (its write failed, e.g. too large to store): a waiting
      // run keeps no user token.
      if (decision.commands.some((c) => c.kind === 'storeUserSession')) {
        await targets.sessions.delete(run.tenantId, run.id).catch(() => undefined);
      }
      throw e;
    }
  }
  throw new Error('run update kept conflicting');
}

export async function carryOut(
  targets: UserRunTargets,
  caller: Caller,
  run: Run,
  commands: readonly RunCommand[],
  etag?: string,
): Promise<void> {
  const { tenantId } = caller.user;
  for (const command of commands) {
    switch (command.kind) {
      case 'writeRun':
        if (etag === undefined) throw new Error('a run is written conditionally on the ETag it was read with');
        try {
          await targets.runs.replace(command.run, etag);
        } catch (e) {
          if (isConcurrencyConflict(e)) throw new StaleRun();
          throw e;
        }
        break;
      case 'sendStep':
        await sendSteps(targets.sender, [{ ...command.step, trace: runSpan(run) }]);
        break;
      case 'storeUserSession':
        await targets.sessions.put(tenantId, run.id, caller.assertion);
        break;
      case 'dropUserSession':
        await targets.sessions.delete(tenantId, run.id);
        break;
      case 'scheduleRetry':
      case 'refreshConnections':
        throw new Error(`the user routes do not ${command.kind}`);
    }
  }
}

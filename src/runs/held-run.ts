import type { MessageSender } from '../adapters/message-queue';
import { runSpan } from '../shared/spans';
import type { UserSessionStore } from '../tokens/user-session-store';
import type { RunCommand, ScheduledRetry, StepTransition } from './core/commands';
import { batchEnds, stepRefused, stepRefusedWithoutData } from './core/steps';
import type { Run } from './run';
import type { RunRepository } from './run-repository';
import { sendSteps } from './step-message';

/** Where a step message's commands are carried out. */
export interface HeldRunTargets {
  runs: Pick<RunRepository, 'replace'>;
  sender: MessageSender;
  sessions: Pick<UserSessionStore, 'delete'>;
  /** Drops the reused connection list of the tenant (executor.ts): a connection's status changed. */
  forgetConnections(tenantId: string): void;
}

/** By name: an error from another realm (structuredClone's, in a VM context) is not `instanceof` this realm's classes. */
export const isStackOverflow = (e: unknown): boolean =>
  typeof e === 'object' && e !== null && (e as { name?: unknown }).name === 'RangeError';

/**
 * The run as a step message's batch holds it: read once, kept current by its own writes, and the run core's commands
 * carried out on it in order. `unsaved`: outcomes not written yet (they go with the next write, conditional on the
 * ETag of the previous one). `writeFailed`: whether a write landed is unknown, so the message is abandoned as after a
 * crash.
 */
export class HeldRun {
  unsaved = false;
  writeFailed = false;
  /** A retry the batch scheduled (for the handler's log line). */
  retry?: ScheduledRetry;

  constructor(
    public run: Run,
    private etag: string,
    private readonly targets: HeldRunTargets,
  ) {}

  /** Takes the core's transition: the run as the batch holds it, then its commands carried out. */
  async apply(transition: StepTransition): Promise<StepTransition['then']> {
    if (transition.run !== this.run) this.unsaved = true; // until a writeRun command stores it
    this.run = transition.run;
    await this.carryOut(transition.commands);
    return transition.then;
  }

  /** Ends the batch after step `index`: what is unsaved is written, a finished user run's token dropped, the next step sent. */
  endAfter(index: number): Promise<void> {
    return this.carryOut(batchEnds(this.run, index, this.unsaved));
  }

  /**
   * Fails the message's step `index` with `reason` when it cannot run at all (poison, a tenant no longer served), so
   * the run does not stay `running`; a run whose own data cannot be serialized is recorded without it.
   */
  async refuse(index: number, reason: string, now: Date): Promise<void> {
    const before = this.run;
    const refused = stepRefused(before, index, reason, now);
    if (!refused) return;
    try {
      await this.apply(refused);
    } catch (e) {
      if (!isStackOverflow(e)) return; // the dead letter still records why
      this.writeFailed = false; // the write failed before reaching Tables
      const bare = stepRefusedWithoutData(before, index, reason, now);
      if (bare) await this.apply(bare).catch(() => undefined);
    }
  }

  async carryOut(commands: readonly RunCommand[]): Promise<void> {
    const { tenantId, id } = this.run;
    for (const command of commands) {
      switch (command.kind) {
        case 'writeRun':
          // Conditional on the batch's ETag (a stale one throws a 412: the message is redelivered).
          try {
            this.etag = await this.targets.runs.replace(command.run, this.etag);
          } catch (e) {
            this.writeFailed = true;
            throw e;
          }
          this.run = command.run;
          this.unsaved = false;
          break;
        case 'sendStep':
          await sendSteps(this.targets.sender, [{ ...command.step, trace: runSpan(this.run) }]);
          break;
        case 'scheduleRetry':
          await sendSteps(this.targets.sender, [{ ...command.step, trace: runSpan(this.run) }]);
          this.retry = command.retry;
          break;
        case 'dropUserSession':
          await this.targets.sessions.delete(tenantId, id);
          break;
        case 'refreshConnections':
          this.targets.forgetConnections(tenantId);
          break;
        case 'storeUserSession':
          throw new Error('a step never stores a user session: only the user routes have the caller token');
      }
    }
  }
}

import { ExpiringLoads } from '../shared/expiring-loads';
import type { Connection } from '../connections/connection';
import type { ConnectionRepository } from '../connections/connection-repository';
import type { ProcessDefinition, StepDefinition } from '../processes/process-definition';
import type { ExecutedAs, Initiator } from './run';

/**
 * Why a tenant without any connection cannot run system processes. One message for both places that find it: the
 * event processor (the run is not started) and the step runner (the step fails).
 */
export const noConnectionMessage = 'System processes need at least one connection. Authorize a connection in the Connections panel.';

/** Form steps wait for a person; nothing in this app executes them. */
export const notExecutableMessage = 'Only action steps run in system processes.';

/**
 * Who executes a step: a connection (a service account the tenant authorized), or the user who started a user
 * process, with a Graph token obtained on their behalf (On-Behalf-Of).
 */
export type Executor = { kind: 'connection'; connection: Connection } | { kind: 'user' };

/** An executor, or why the step has none (the step fails with `reason`, which the admin reads in the run). */
export type ExecutorChoice = Executor | { kind: 'none'; reason: string };

/**
 * Who executes `step` of `process`. In a user process, an action step without `permissions.executeAs` runs as the
 * user who started the run: never as `runAs` or the default connection (elevation is the step's explicit choice).
 * Otherwise, from the tenant's connections: the step's `permissions.executeAs`, else the process's `runAs`, else the
 * tenant's default connection. The chosen connection must be active: a connection that needs re-authorization is
 * not silently replaced by another account.
 */
export function chooseExecutor(process: ProcessDefinition, step: StepDefinition, connections: readonly Connection[]): ExecutorChoice {
  if (step.type !== 'action') return { kind: 'none', reason: notExecutableMessage };
  if (process.kind === 'user' && !step.permissions?.executeAs) return { kind: 'user' };
  if (connections.length === 0) return { kind: 'none', reason: noConnectionMessage };
  const wanted = step.permissions?.executeAs ?? (process.kind === 'user' ? undefined : process.runAs);
  const connection = wanted ? connections.find((c) => c.id === wanted) : connections.find((c) => c.isDefault);
  if (!connection) {
    return {
      kind: 'none',
      reason: wanted
        ? `The connection ${wanted} this step runs as no longer exists. Choose another connection and republish the process.`
        : 'The tenant has no default connection. Make a connection the default.',
    };
  }
  if (connection.status !== 'active') {
    return { kind: 'none', reason: `The connection "${connection.displayName}" (${connection.account.username}) needs re-authorization.` };
  }
  return { kind: 'connection', connection };
}

/** The identity a run's audit records for a step; `initiator` is the user a user run runs for. */
export function executedAsOf(executor: Executor, initiator?: Initiator): ExecutedAs {
  if (executor.kind === 'connection') {
    const { account } = executor.connection;
    return { kind: 'connection', connectionId: executor.connection.id, username: account.username, objectId: account.objectId };
  }
  if (!initiator) throw new Error('a step runs as its user only in a run a user started');
  return { kind: 'user', username: initiator.username, objectId: initiator.objectId };
}

/**
 * Chooses executors from the tenant's connection list, reused briefly: a burst of steps must not query Tables per
 * step. A choice that finds no executor reads the list again first, since the reused copy may predate a
 * re-authorization, a new connection or a new default.
 */
export class ExecutorResolver {
  private readonly tenantConnections: ExpiringLoads<Connection[]>;

  constructor(
    private readonly connections: Pick<ConnectionRepository, 'list'>,
    reuseMs: number,
  ) {
    this.tenantConnections = new ExpiringLoads(reuseMs);
  }

  async resolve(tenantId: string, process: ProcessDefinition, step: StepDefinition): Promise<ExecutorChoice> {
    const without = chooseExecutor(process, step, []);
    if (without.kind === 'user' || step.type !== 'action') return without;
    const choice = chooseExecutor(process, step, await this.connectionsOf(tenantId));
    if (choice.kind !== 'none') return choice;
    this.forget(tenantId);
    return chooseExecutor(process, step, await this.connectionsOf(tenantId));
  }

  /** Drops the reused list, e.g. after a connection's grant turned out dead (its status changed). */
  forget(tenantId: string): void {
    this.tenantConnections.delete(tenantId);
  }

  private connectionsOf(tenantId: string): Promise<Connection[]> {
    return this.tenantConnections.get(tenantId, () => this.connections.list(tenantId));
  }
}

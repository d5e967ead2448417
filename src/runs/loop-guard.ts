import type { Connection } from '../connections/connection';
import type { ProductEvent } from '../events/product-event';
import type { ProcessDefinition } from '../processes/process-definition';

/**
 * The connections whose accounts a system process acts as: its `runAs`, each action step's `permissions.executeAs`,
 * and the tenant's default connection when some action step names neither (the executor rule of executor.ts). A
 * connection that needs re-authorization is still its account; a connection that no longer exists is nobody.
 */
export function identitiesOfProcess(process: ProcessDefinition, connections: readonly Connection[]): Connection[] {
  const wanted = new Set<string>();
  if (process.runAs) wanted.add(process.runAs);
  for (const step of process.steps) {
    if (step.type !== 'action') continue;
    const id = step.permissions?.executeAs ?? process.runAs;
    if (id) wanted.add(id);
    else {
      const fallback = connections.find((c) => c.isDefault);
      if (fallback) wanted.add(fallback.id);
    }
  }
  return connections.filter((c) => wanted.has(c.id));
}

/**
 * The loop guard that holds in Azure: the product names the account that made the change behind an event
 * (`actor.objectId`), and a system process does not start on a change made by an account its own steps run as, since
 * that change is most likely its own (Graph does not keep the x-connections-* headers that `causedBy` relies on).
 * A trigger that really wants to react to its own account's changes opts in with `allowSelfTrigger: true` (a matching
 * trigger's opt-in counts); the chain-depth cap still bounds it. Answers the `not_started` reason, or undefined.
 */
export function selfTriggerReason(
  event: Pick<ProductEvent, 'actor'>,
  process: ProcessDefinition,
  connections: readonly Connection[],
  allowSelfTrigger: boolean,
): string | undefined {
  const actor = event.actor?.objectId.toLowerCase();
  if (!actor || allowSelfTrigger) return undefined;
  const self = identitiesOfProcess(process, connections).find((c) => c.account.objectId.toLowerCase() === actor);
  if (!self) return undefined;
  return (
    `Not started: the change behind the event was made by ${self.account.username} (connection "${self.displayName}"), ` +
    `which this process's own steps run as (loop guard). To react to that account's changes, set allowSelfTrigger: true on the trigger.`
  );
}

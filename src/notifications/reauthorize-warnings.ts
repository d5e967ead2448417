import type { MessageSender } from '../adapters/message-queue';
import { queueNames } from '../config/queues';
import { reauthorizeBy } from '../connections/connection';
import type { ConnectionRepository } from '../connections/connection-repository';
import type { ConnectionReauthorizeSoon } from './connection-notices';

/** Days before `reauthorizeBy` at which admins are warned. */
export const warningDays = [14, 3] as const;
const dayMs = 24 * 3600_000;

/**
 * Sends `ConnectionReauthorizeSoon` for each active connection within 14 (then 3) days of its `reauthorizeBy`. Run
 * daily by the keep-alive timer, after the keep-alive had its chance to refresh: a warning means the refresh did not
 * happen. The message id names the connection, its `reauthorizeBy` and the threshold, so each warning is mailed once
 * (the notifier records mailed ids) however often this runs; a refresh moves `reauthorizeBy` and starts over.
 */
export async function sendReauthorizeWarnings(deps: {
  connections: Pick<ConnectionRepository, 'listActiveAcrossTenants'>;
  sender: MessageSender;
  refreshTokenInactivityDays: number;
  now?: Date;
}): Promise<number> {
  const now = deps.now ?? new Date();
  const messages = [];
  for (const c of await deps.connections.listActiveAcrossTenants()) {
    const due = reauthorizeBy(c, deps.refreshTokenInactivityDays);
    const daysLeft = Math.floor((Date.parse(due) - now.getTime()) / dayMs);
    // The smallest threshold reached: a connection found at 2 days gets the 3-day warning only.
    const threshold = [...warningDays].reverse().find((d) => daysLeft < d);
    if (threshold === undefined || daysLeft < 0) continue;
    const body: ConnectionReauthorizeSoon = {
      type: 'ConnectionReauthorizeSoon',
      tenantId: c.account.tenantId,
      connectionId: c.id,
      displayName: c.displayName,
      username: c.account.username,
      reauthorizeBy: due,
      daysLeft,
      at: now.toISOString(),
    };
    messages.push({ body, messageId: `ReauthorizeSoon:${c.id}:${due}:${threshold}`, applicationProperties: { type: body.type } });
  }
  if (messages.length) await deps.sender.send(queueNames.connectionEvents, messages);
  return messages.length;
}

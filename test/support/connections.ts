import type { OutgoingMessage } from '../../src/adapters/message-queue';
import { queueNames, type QueueName } from '../../src/config/queues';
import type { ConnectionView } from '../../src/connections/connection';
import type { AuditEntry } from '../../src/connections/connection-audit';
import type { ConnectionStatusChanged } from '../../src/connections/connection-lifecycle';
import type { ConnectionUsage } from '../../src/connections/connection-usage';
import { CONTOSO_ADMIN, type LocalUser } from '../../src/local/identity-provider/directory';
import { signIn } from './sign-in';
import type { TestStack } from './test-stack';

/** Authorizes a connection the way an admin does: authorize, sign in as `user`, open the callback. */
export async function authorizeConnection(
  stack: TestStack,
  user: LocalUser,
  displayName?: string,
  admin: LocalUser = CONTOSO_ADMIN,
): Promise<ConnectionView> {
  const token = await stack.tokenFor(admin);
  const start = await stack.api('connections/authorize', { method: 'POST', body: displayName ? { displayName } : {}, token });
  if (start.status !== 200) throw new Error(`authorize answered ${start.status}`);
  const { redirectUrl } = await signIn(start.json.authorizeUrl, user.username);
  const page = await stack.get(redirectUrl);
  if (page.status !== 200) throw new Error(`callback answered ${page.status}`);
  const connection = (await listConnections(stack, '', admin)).find((c) => c.account.objectId === user.objectId);
  if (!connection) throw new Error(`no connection of ${user.username} after its sign-in`);
  return connection;
}

/** GET connections (optionally `?status=…`) as `admin`; anything but 200 throws. */
export async function listConnections(stack: TestStack, query = '', admin: LocalUser = CONTOSO_ADMIN): Promise<ConnectionView[]> {
  const res = await stack.api(`connections${query}`, { token: await stack.tokenFor(admin) });
  if (res.status !== 200) throw new Error(`GET connections${query} answered ${res.status}`);
  return res.json.connections as ConnectionView[];
}

/** GET one connection; anything but 200 throws. */
export async function getConnection(stack: TestStack, id: string): Promise<ConnectionView> {
  const res = await stack.api(`connections/${id}`);
  if (res.status !== 200) throw new Error(`GET connections/${id} answered ${res.status}`);
  return res.json as ConnectionView;
}

/** A connection's audit log, newest first; anything but 200 throws. */
export async function auditOf(stack: TestStack, id: string): Promise<AuditEntry[]> {
  const res = await stack.api(`connections/${id}/audit`);
  if (res.status !== 200) throw new Error(`GET connections/${id}/audit answered ${res.status}`);
  return res.json.entries as AuditEntry[];
}

export async function usageOf(stack: TestStack, id: string): Promise<ConnectionUsage> {
  const res = await stack.api(`connections/${id}/usage`);
  if (res.status !== 200) throw new Error(`GET connections/${id}/usage answered ${res.status}`);
  return res.json as ConnectionUsage;
}

export interface ConnectionNotice {
  body: ConnectionStatusChanged;
  messageId: string;
}

/**
 * Records what the app sends to `connection-events` (the notifier consumes them; a tenant without notification
 * settings mails nobody) without changing the bus: the app context holds this same object as its sender.
 */
export function observeConnectionEvents(stack: TestStack): ConnectionNotice[] {
  const notices: ConnectionNotice[] = [];
  const send = stack.bus.send.bind(stack.bus);
  stack.bus.send = async (queue: QueueName, messages: OutgoingMessage[]) => {
    await send(queue, messages);
    if (queue === queueNames.connectionEvents)
      for (const m of messages) notices.push({ body: m.body as ConnectionStatusChanged, messageId: m.messageId });
  };
  return notices;
}

import type { InvocationContext } from '@azure/functions';
import { appContext } from '../src/app-context';
import { queueNames } from '../src/config/queues';
import { connectionEventSchema } from '../src/notifications/connection-notices';
import { safeMessage } from '../src/shared/errors';
import { logLine } from '../src/shared/log-line';
import type { ServiceBusFunction } from './registry';

const parseBody = (message: unknown) => {
  if (typeof message !== 'string') return message;
  try {
    return JSON.parse(message);
  } catch {
    return message;
  }
};

const messageIdOf = (context: InvocationContext) => {
  const id = (context.triggerMetadata as { messageId?: unknown } | undefined)?.messageId;
  return typeof id === 'string' && id ? id : undefined;
};

/**
 * `connection-events`: each change of a connection (and app-wide credential failures, re-authorize-by warnings) is
 * mailed to the tenant's admins, once per message id (src/notifications/connection-notifier.ts). A message nobody
 * can send yet throws: Service Bus redelivers it, then dead-letters it for the operator's alert.
 */
export const connectionEventFunctions: ServiceBusFunction[] = [
  {
    kind: 'serviceBus',
    name: 'connection-events-notify',
    queueName: queueNames.connectionEvents,
    isSessionsEnabled: false,
    handler: async (message, context) => {
      const parsed = connectionEventSchema.safeParse(parseBody(message));
      const messageId = messageIdOf(context);
      if (!parsed.success || !messageId) {
        // Not ours to mail (another sender's message): completed, so it does not fill the dead-letter queue.
        context.warn(logLine('Connection event not understood; not mailed', { messageId: messageId ?? null }));
        return;
      }
      const { notifier } = await appContext();
      const event = parsed.data;
      const ids = {
        messageId,
        type: event.type,
        ...('tenantId' in event ? { tenantId: event.tenantId } : {}),
        ...('connectionId' in event ? { connectionId: event.connectionId } : {}),
      };
      try {
        const outcome = await notifier.handle(event, messageId);
        for (const t of outcome.tenants)
          context.info(logLine('Connection notice', { ...ids, tenantId: t.tenantId, outcome: t.outcome, via: t.via ?? null }));
      } catch (e) {
        context.warn(logLine('Connection notice not sent (retried)', { ...ids, error: safeMessage(e) }));
        throw e;
      }
    },
  },
];

import { graphRequest } from '../actions/graph-client';
import { isActionError } from '../actions/action';
import type { Connection } from '../connections/connection';
import type { ConnectionRepository } from '../connections/connection-repository';
import { AppError } from '../shared/errors';
import { TokenAcquisitionError, type TokenBroker } from '../tokens/token-broker';
import { noticeFor, type ConnectionEvent } from './connection-notices';
import type { NotificationStore } from './notification-settings';

export interface NotifyOutcome {
  /** Per tenant: mailed as which connection, or why nobody was mailed. */
  tenants: { tenantId: string; outcome: 'sent' | 'already sent' | 'no recipients'; via?: string }[];
}

export interface ConnectionNotifierDeps {
  store: NotificationStore;
  connections: Pick<ConnectionRepository, 'list'>;
  broker: Pick<TokenBroker, 'getAccessToken'>;
  graphBaseUrl: string;
  fetch?: typeof fetch;
  now?: () => Date;
}

/**
 * Tells a tenant's admins what happened to their connections (queue `connection-events`), by mail through Graph
 * `POST /me/sendMail` as a connection of the tenant: the one the settings name, else, or when that one is the
 * connection that died or cannot get a token, another active one. With none, the message is retried and, past the
 * queue's delivery count, dead-lettered, which the `dead-lettered-connection-events` alert reports.
 *
 * Once per change: a mailed message id is recorded per tenant, so a redelivery mails nobody. (Between the mail and
 * that record a crash mails again on redelivery: at least once, never lost.)
 */
export class ConnectionNotifier {
  constructor(private readonly deps: ConnectionNotifierDeps) {}

  async handle(event: ConnectionEvent, messageId: string): Promise<NotifyOutcome> {
    const tenantIds = 'tenantId' in event ? [event.tenantId] : await this.deps.store.tenantsWithRecipients();
    const outcome: NotifyOutcome = { tenants: [] };
    const failures: unknown[] = [];
    for (const tenantId of tenantIds) {
      try {
        outcome.tenants.push({ tenantId, ...(await this.notifyTenant(tenantId, event, messageId)) });
      } catch (e) {
        failures.push(e);
      }
    }
    // Tenants already mailed are recorded; the redelivery mails only those that failed.
    if (failures.length) throw failures[0];
    return outcome;
  }

  private async notifyTenant(
    tenantId: string,
    event: ConnectionEvent,
    messageId: string,
  ): Promise<{ outcome: 'sent' | 'already sent' | 'no recipients'; via?: string }> {
    const settings = await this.deps.store.get(tenantId);
    if (settings.recipients.length === 0) return { outcome: 'no recipients' };
    if (await this.deps.store.wasSent(tenantId, messageId)) return { outcome: 'already sent' };
    const notice = noticeFor(event, settings.pageUrl);
    const candidates = senders(await this.deps.connections.list(tenantId), settings.sendAs);
    const refused: string[] = [];
    for (const sender of candidates) {
      let token;
      try {
        token = await this.deps.broker.getAccessToken(
          { tenantId, id: sender.id, objectId: sender.account.objectId },
          { purpose: 'keep-alive' },
        );
      } catch (e) {
        if (!(e instanceof TokenAcquisitionError)) throw e;
        refused.push(`${sender.displayName}: ${e.failure.reason}`);
        continue;
      }
      try {
        await graphRequest({
          graphBaseUrl: this.deps.graphBaseUrl,
          accessToken: token.token,
          method: 'POST',
          path: '/me/sendMail',
          body: {
            message: {
              subject: notice.subject,
              body: { contentType: 'Text', content: notice.text },
              toRecipients: settings.recipients.map((address) => ({ emailAddress: { address } })),
            },
            saveToSentItems: false,
          },
          idempotencyKey: `notice:${tenantId}:${messageId}`,
          ...(this.deps.fetch ? { fetch: this.deps.fetch } : {}),
        });
      } catch (e) {
        // A connection without mail rights (403) or a mailbox: the next one may have them.
        if (isActionError(e) && e.kind !== 'transient') {
          refused.push(`${sender.displayName}: Graph answered ${e.status ?? 'nothing'}`);
          continue;
        }
        throw e;
      }
      await this.deps.store.markSent(tenantId, messageId, (this.deps.now?.() ?? new Date()).toISOString(), sender.id);
      return { outcome: 'sent', via: sender.id };
    }
    throw new AppError(
      'unavailable',
      `No connection of tenant ${tenantId} could send the notification` +
        (refused.length ? ` (${refused.join('; ')})` : ' (no active connection)'),
    );
  }
}

/**
 * Who may send, in order: the chosen connection, the default, the others; only active ones, so a connection the notice
 * reports dead is skipped and another sends it (the row is marked before its message is sent).
 */
function senders(connections: Connection[], sendAs: string | null): Connection[] {
  const rank = (c: Connection) => (c.id === sendAs ? 0 : c.isDefault ? 1 : 2);
  return connections.filter((c) => c.status === 'active').sort((a, b) => rank(a) - rank(b));
}

import { z } from 'zod';
import { odataString, statusOf, type TableFactory } from '../adapters/tables';
import type { ConnectionRepository } from '../connections/connection-repository';
import { AppError } from '../shared/errors';

/** `GET|PUT settings/notifications` (contract): who is mailed about the tenant's connections, and as which connection. */
export const notificationSettingsSchema = z.strictObject({
  recipients: z.array(z.email().max(320)).max(20),
  /** The connection the mail is sent as (Graph /me/sendMail); another active one when it cannot. */
  sendAs: z.uuid().nullable(),
  /** The page admins open from the mail (the page sends its own address); the mail names the page without it. */
  pageUrl: z
    .url({ protocol: /^https?$/ })
    .max(2048)
    .optional(),
});
export type NotificationSettings = z.infer<typeof notificationSettingsSchema>;

const unset: NotificationSettings = { recipients: [], sendAs: null };
const SETTINGS_ROW = 'settings';
const SENT_PREFIX = 'sent_';

type SettingsRow = { partitionKey: string; rowKey: string; settingsJson: string };

/**
 * One table, partition = tenant: the tenant's settings (row `settings`) and one row per notification mailed (row
 * `sent_<message id>`), which makes a redelivered message, or a resent one past Service Bus's duplicate detection
 * window, mail nobody twice.
 */
export class NotificationStore {
  constructor(
    private readonly tables: TableFactory,
    private readonly tableName: string,
  ) {}

  async get(tenantId: string): Promise<NotificationSettings> {
    try {
      const row = await (await this.tables(this.tableName)).getEntity<SettingsRow>(tenantId, SETTINGS_ROW);
      return notificationSettingsSchema.parse(JSON.parse(row.settingsJson));
    } catch (e) {
      if (statusOf(e) === 404) return unset;
      throw e;
    }
  }

  async put(tenantId: string, settings: NotificationSettings): Promise<void> {
    await (
      await this.tables(this.tableName)
    ).upsertEntity<SettingsRow>({ partitionKey: tenantId, rowKey: SETTINGS_ROW, settingsJson: JSON.stringify(settings) }, 'Replace');
  }

  /** Tenants with at least one recipient (an app-wide notice goes to each). */
  async tenantsWithRecipients(): Promise<string[]> {
    const table = await this.tables(this.tableName);
    const tenants: string[] = [];
    for await (const row of table.listEntities<SettingsRow>({ queryOptions: { filter: `RowKey eq ${odataString(SETTINGS_ROW)}` } })) {
      const parsed = notificationSettingsSchema.safeParse(JSON.parse(row.settingsJson));
      if (parsed.success && parsed.data.recipients.length > 0) tenants.push(row.partitionKey);
    }
    return tenants;
  }

  async wasSent(tenantId: string, messageId: string): Promise<boolean> {
    try {
      await (await this.tables(this.tableName)).getEntity(tenantId, sentKey(messageId));
      return true;
    } catch (e) {
      if (statusOf(e) === 404) return false;
      throw e;
    }
  }

  async markSent(tenantId: string, messageId: string, at: string, via: string): Promise<void> {
    await (await this.tables(this.tableName)).upsertEntity({ partitionKey: tenantId, rowKey: sentKey(messageId), at, via }, 'Replace');
  }
}

/** Row keys may not hold / \ # ? or control characters (learn.microsoft.com/rest/api/storageservices/understanding-the-table-service-data-model). */
const sentKey = (messageId: string) =>
  `${SENT_PREFIX}${[...messageId]
    .map((c) => (/[/\\#?]/.test(c) || c.charCodeAt(0) < 0x20 || (c.charCodeAt(0) >= 0x7f && c.charCodeAt(0) <= 0x9f) ? '_' : c))
    .join('')
    .slice(0, 900)}`;

/** The admin routes: settings are checked against the tenant's connections before they are stored. */
export class NotificationSettingsService {
  constructor(
    private readonly store: NotificationStore,
    private readonly connections: Pick<ConnectionRepository, 'get'>,
  ) {}

  get(tenantId: string): Promise<NotificationSettings> {
    return this.store.get(tenantId);
  }

  async put(tenantId: string, settings: NotificationSettings): Promise<NotificationSettings> {
    if (settings.sendAs && !(await this.connections.get(tenantId, settings.sendAs))) {
      throw new AppError('invalid', 'sendAs names no connection of this tenant.', {
        details: [{ path: 'sendAs', message: 'no connection of this tenant has this id' }],
      });
    }
    const stored = { ...settings, recipients: [...new Set(settings.recipients.map((r) => r.toLowerCase()))] };
    await this.store.put(tenantId, stored);
    return stored;
  }
}

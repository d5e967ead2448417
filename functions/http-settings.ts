import { notificationSettingsSchema } from '../src/notifications/notification-settings';
import { readJson } from '../src/http/request';
import { json } from '../src/http/responses';
import { adminApi } from './admin-api';
import type { HttpFunction } from './registry';

/** The tenant's notification settings: who is mailed about its connections, and as which connection. */
export const settingsFunctions: HttpFunction[] = [
  adminApi(
    'settings-notifications-get',
    'GET',
    'settings/notifications',
    { summary: "The tenant's notification settings", answers: { 200: notificationSettingsSchema } },
    async (_req, admin, { notificationSettings }) => json(200, await notificationSettings.get(admin.tenantId)),
  ),
  adminApi(
    'settings-notifications-put',
    'PUT',
    'settings/notifications',
    {
      summary: "Set who is mailed about the tenant's connections, and as which connection",
      body: notificationSettingsSchema,
      answers: { 200: notificationSettingsSchema },
      errors: [422],
    },
    async (req, admin, { notificationSettings }) =>
      json(200, await notificationSettings.put(admin.tenantId, await readJson(req, notificationSettingsSchema))),
  ),
];

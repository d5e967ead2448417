import type { HttpRequest, InvocationContext } from '@azure/functions';
import { z } from 'zod';
import { appContext, type AppContext } from '../src/app-context';
import { connectionStatuses, toConnectionView, type Connection } from '../src/connections/connection';
import { connectionReadyPage, signInRefusedPage } from '../src/connections/sign-in-pages';
import { queryParams, readJson, routeId } from '../src/http/request';
import { html, json, noContent } from '../src/http/responses';
import { logLine } from '../src/shared/log-line';
import { safeMessage } from '../src/shared/errors';
import { adminApi } from './admin-api';
import type { HttpFunction } from './registry';

const displayName = z.string().trim().min(1).max(128);
const authorizeBody = z.strictObject({ displayName: displayName.optional() });
const updateBody = z
  .strictObject({ displayName: displayName.optional(), isDefault: z.boolean().optional() })
  .refine((b) => b.displayName !== undefined || b.isDefault !== undefined, { message: 'Give displayName and/or isDefault.' });
const listQuery = z.object({ status: z.enum(connectionStatuses).optional() });
const deleteQuery = z.object({ force: z.enum(['true', 'false']).optional(), revokeSessions: z.enum(['true', 'false']).optional() });
const auditQuery = z.object({ limit: z.coerce.number().int().min(1).max(1000).optional() });

const view = (c: Connection, { settings }: AppContext) => toConnectionView(c, settings.REFRESH_TOKEN_INACTIVITY_DAYS);

async function callback(req: HttpRequest, context: InvocationContext) {
  const q = req.query;
  const param = (name: string) => q.get(name)?.slice(0, 4096) ?? undefined;
  try {
    const { signIn } = await appContext();
    const outcome = await signIn.complete({
      state: param('state'),
      code: param('code'),
      error: param('error'),
    });
    if (!outcome.ok) {
      context.warn(logLine('Sign-in refused', { reason: outcome.refusal.title }));
      return html(400, signInRefusedPage(outcome.refusal));
    }
    const c = outcome.connection;
    context.info(
      logLine(outcome.reauthorized ? 'Connection re-authorized' : 'Connection set up', {
        tenantId: c.account.tenantId,
        connectionId: c.id,
      }),
    );
    return html(200, connectionReadyPage(c.account.username, c.displayName, outcome.reauthorized));
  } catch (e) {
    context.error(logLine('Sign-in callback failed', { error: safeMessage(e) }));
    return html(
      500,
      signInRefusedPage({
        title: 'Sign-in could not be completed',
        whatHappened: `Something went wrong on our side (invocation ${context.invocationId}).`,
        whatToDo: 'Close this tab and start again from the Connections panel; if it persists, give the invocation id to support.',
      }),
    );
  }
}

export const connectionFunctions: HttpFunction[] = [
  adminApi('connections-authorize', 'POST', 'connections/authorize', async (req, admin, { signIn }) => {
    const body = await readJson(req, authorizeBody);
    return json(200, await signIn.authorize(admin, body.displayName));
  }),
  { kind: 'http', name: 'connections-callback', methods: ['GET'], route: 'connections/callback', handler: callback },
  adminApi('connections-list', 'GET', 'connections', async (req, admin, ctx) => {
    const { status } = queryParams(req, listQuery);
    return json(200, { connections: (await ctx.connections.list(admin, { status })).map((c) => view(c, ctx)) });
  }),
  adminApi('connections-get', 'GET', 'connections/{id}', async (req, admin, ctx) =>
    json(200, view(await ctx.connections.get(admin, routeId(req)), ctx)),
  ),
  adminApi('connections-update', 'PATCH', 'connections/{id}', async (req, admin, ctx) => {
    const id = routeId(req);
    const body = await readJson(req, updateBody);
    return json(200, view(await ctx.connections.update(admin, id, body), ctx));
  }),
  adminApi('connections-delete', 'DELETE', 'connections/{id}', async (req, admin, { connections }) => {
    const id = routeId(req);
    const { force, revokeSessions } = queryParams(req, deleteQuery);
    await connections.delete(admin, id, { force: force === 'true', revokeSessions: revokeSessions === 'true' });
    return noContent();
  }),
  adminApi('connections-usage', 'GET', 'connections/{id}/usage', async (req, admin, { connections }) =>
    json(200, await connections.usage(admin, routeId(req))),
  ),
  adminApi('connections-audit', 'GET', 'connections/{id}/audit', async (req, admin, { connections }) => {
    const id = routeId(req);
    const { limit } = queryParams(req, auditQuery);
    return json(200, { entries: await connections.audit(admin, id, limit) });
  }),
  adminApi('connections-reauthorize', 'POST', 'connections/{id}/reauthorize', async (req, admin, { signIn }) =>
    json(200, await signIn.reauthorize(admin, routeId(req))),
  ),
  adminApi('connections-test', 'POST', 'connections/{id}/test', async (req, admin, { connections, quotas }) => {
    const id = routeId(req);
    quotas.spend('connectionTests', admin.tenantId);
    return json(200, await connections.test(admin, id));
  }),
];

import type { HttpRequest, InvocationContext } from '@azure/functions';
import { z } from 'zod';
import { appContext, type AppContext } from '../src/app-context';
import { connectionStatuses, connectionViewSchema, toConnectionView, type Connection } from '../src/connections/connection';
import { auditEntriesSchema, authorizeStartSchema, connectionUsageSchema, testOutcomeSchema } from '../src/connections/connection-answers';
import { connectionReadyPage, signInRefusedPage } from '../src/connections/sign-in-pages';
import { idParam, queryParams, readJson, routeId } from '../src/http/request';
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

const callbackQuery = z.object({ state: z.string().optional(), code: z.string().optional(), error: z.string().optional() });
const idParams = { id: idParam };
const connectionList = z.strictObject({ connections: z.array(connectionViewSchema) });

export const connectionFunctions: HttpFunction[] = [
  adminApi(
    'connections-authorize',
    'POST',
    'connections/authorize',
    { summary: 'Start the sign-in of a new service account', body: authorizeBody, answers: { 200: authorizeStartSchema }, errors: [429] },
    async (req, admin, { signIn }) => {
      const body = await readJson(req, authorizeBody);
      return json(200, await signIn.authorize(admin, body.displayName));
    },
  ),
  {
    kind: 'http',
    name: 'connections-callback',
    methods: ['GET'],
    route: 'connections/callback',
    contract: {
      summary: "Entra ID's redirect after the sign-in: a page saying whether the connection was set up",
      auth: 'none',
      query: callbackQuery,
      answers: { 200: 'html', 400: 'html', 500: 'html' },
    },
    handler: callback,
  },
  adminApi(
    'connections-list',
    'GET',
    'connections',
    { summary: "The tenant's connections", query: listQuery, answers: { 200: connectionList } },
    async (req, admin, ctx) => {
      const { status } = queryParams(req, listQuery);
      return json(200, { connections: (await ctx.connections.list(admin, { status })).map((c) => view(c, ctx)) });
    },
  ),
  adminApi(
    'connections-get',
    'GET',
    'connections/{id}',
    { summary: 'One connection', params: idParams, answers: { 200: connectionViewSchema } },
    async (req, admin, ctx) => json(200, view(await ctx.connections.get(admin, routeId(req)), ctx)),
  ),
  adminApi(
    'connections-update',
    'PATCH',
    'connections/{id}',
    { summary: 'Rename a connection or make it the default', params: idParams, body: updateBody, answers: { 200: connectionViewSchema } },
    async (req, admin, ctx) => {
      const id = routeId(req);
      const body = await readJson(req, updateBody);
      return json(200, view(await ctx.connections.update(admin, id, body), ctx));
    },
  ),
  adminApi(
    'connections-delete',
    'DELETE',
    'connections/{id}',
    {
      summary: 'Delete a connection (409 with its usage while processes reference it, unless force=true)',
      params: idParams,
      query: deleteQuery,
      answers: { 204: 'empty' },
      errors: [409],
    },
    async (req, admin, { connections }) => {
      const id = routeId(req);
      const { force, revokeSessions } = queryParams(req, deleteQuery);
      await connections.delete(admin, id, { force: force === 'true', revokeSessions: revokeSessions === 'true' });
      return noContent();
    },
  ),
  adminApi(
    'connections-usage',
    'GET',
    'connections/{id}/usage',
    { summary: "Where the tenant's processes reference a connection", params: idParams, answers: { 200: connectionUsageSchema } },
    async (req, admin, { connections }) => json(200, await connections.usage(admin, routeId(req))),
  ),
  adminApi(
    'connections-audit',
    'GET',
    'connections/{id}/audit',
    { summary: "A connection's audit trail, newest first", params: idParams, query: auditQuery, answers: { 200: auditEntriesSchema } },
    async (req, admin, { connections }) => {
      const id = routeId(req);
      const { limit } = queryParams(req, auditQuery);
      return json(200, { entries: await connections.audit(admin, id, limit) });
    },
  ),
  adminApi(
    'connections-reauthorize',
    'POST',
    'connections/{id}/reauthorize',
    { summary: 'Start a new sign-in of the same account', params: idParams, answers: { 200: authorizeStartSchema }, errors: [429] },
    async (req, admin, { signIn }) => json(200, await signIn.reauthorize(admin, routeId(req))),
  ),
  adminApi(
    'connections-test',
    'POST',
    'connections/{id}/test',
    { summary: 'Check that a connection can get a token now', params: idParams, answers: { 200: testOutcomeSchema }, errors: [429] },
    async (req, admin, { connections, quotas }) => {
      const id = routeId(req);
      quotas.spend('connectionTests', admin.tenantId);
      return json(200, await connections.test(admin, id));
    },
  ),
];

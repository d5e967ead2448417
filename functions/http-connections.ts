import type { HttpRequest, InvocationContext } from '@azure/functions';
import { z } from 'zod';
import { appContext } from '../src/app-context';
import type { AppContext } from '../src/app-context';
import { connectionStatuses, toConnectionView, type Connection } from '../src/connections/connection';
import { ConnectionInUseError } from '../src/connections/connection-service';
import { connectionReadyPage, signInRefusedPage } from '../src/connections/sign-in-pages';
import { adminRoute, safeMessage } from '../src/http/admin-route';
import { readJson, routeId, validate } from '../src/http/request';
import { html, json, noContent } from '../src/http/responses';
import type { HttpFunction } from './registry';

const displayName = z.string().trim().min(1).max(128);
const authorizeBody = z.strictObject({ displayName: displayName.optional() });
const updateBody = z
  .strictObject({ displayName: displayName.optional(), isDefault: z.boolean().optional() })
  .refine((b) => b.displayName !== undefined || b.isDefault !== undefined, { message: 'Give displayName and/or isDefault.' });
const listQuery = z.object({ status: z.enum(connectionStatuses).optional() });
const deleteQuery = z.object({ force: z.enum(['true', 'false']).optional() });
const auditQuery = z.object({ limit: z.coerce.number().int().min(1).max(1000).optional() });

/** Only the query parameters a route knows; `undefined` for absent ones, so schemas see what was sent. */
const query = <S extends z.ZodType>(req: HttpRequest, schema: S, names: string[]): z.infer<S> =>
  validate(schema, Object.fromEntries(names.flatMap((n) => (req.query.has(n) ? [[n, req.query.get(n)]] : []))), 'query');

const view = (c: Connection, { settings }: AppContext) => toConnectionView(c, settings.REFRESH_TOKEN_INACTIVITY_DAYS);

async function callback(req: HttpRequest, context: InvocationContext) {
  const q = req.query;
  const param = (name: string) => q.get(name)?.slice(0, 4096) ?? undefined;
  try {
    const { connections } = await appContext();
    const outcome = await connections.completeSignIn({
      state: param('state'),
      code: param('code'),
      error: param('error'),
      error_description: param('error_description'),
    });
    if (!outcome.ok) {
      context.warn(`Sign-in refused: ${outcome.refusal.title}`);
      return html(400, signInRefusedPage(outcome.refusal));
    }
    const c = outcome.connection;
    context.info(`Connection ${c.id} ${outcome.reauthorized ? 're-authorized' : 'set up'} in tenant ${c.account.tenantId}`);
    return html(200, connectionReadyPage(c.account.username, c.displayName, outcome.reauthorized));
  } catch (e) {
    context.error(`Sign-in callback failed: ${safeMessage(e)}`);
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
  {
    kind: 'http',
    name: 'connections-authorize',
    methods: ['POST'],
    route: 'connections/authorize',
    handler: adminRoute(appContext, async (req, admin, { connections }) => {
      const body = await readJson(req, authorizeBody);
      return json(200, await connections.authorize(admin, body.displayName));
    }),
  },
  { kind: 'http', name: 'connections-callback', methods: ['GET'], route: 'connections/callback', handler: callback },
  {
    kind: 'http',
    name: 'connections-list',
    methods: ['GET'],
    route: 'connections',
    handler: adminRoute(appContext, async (req, admin, ctx) => {
      const { status } = query(req, listQuery, ['status']);
      return json(200, { connections: (await ctx.connections.list(admin, { status })).map((c) => view(c, ctx)) });
    }),
  },
  {
    kind: 'http',
    name: 'connections-get',
    methods: ['GET'],
    route: 'connections/{id}',
    handler: adminRoute(appContext, async (req, admin, ctx) => json(200, view(await ctx.connections.get(admin, routeId(req)), ctx))),
  },
  {
    kind: 'http',
    name: 'connections-update',
    methods: ['PATCH'],
    route: 'connections/{id}',
    handler: adminRoute(appContext, async (req, admin, ctx) => {
      const id = routeId(req);
      const body = await readJson(req, updateBody);
      return json(200, view(await ctx.connections.update(admin, id, body), ctx));
    }),
  },
  {
    kind: 'http',
    name: 'connections-delete',
    methods: ['DELETE'],
    route: 'connections/{id}',
    handler: adminRoute(appContext, async (req, admin, { connections }) => {
      const id = routeId(req);
      const { force } = query(req, deleteQuery, ['force']);
      try {
        await connections.delete(admin, id, { force: force === 'true' });
      } catch (e) {
        // 409 carries the impact analysis, so the portal can show what would break without a second call.
        if (e instanceof ConnectionInUseError) return json(409, { error: { message: e.message }, usage: e.usage });
        throw e;
      }
      return noContent();
    }),
  },
  {
    kind: 'http',
    name: 'connections-usage',
    methods: ['GET'],
    route: 'connections/{id}/usage',
    handler: adminRoute(appContext, async (req, admin, { connections }) => json(200, await connections.usage(admin, routeId(req)))),
  },
  {
    kind: 'http',
    name: 'connections-audit',
    methods: ['GET'],
    route: 'connections/{id}/audit',
    handler: adminRoute(appContext, async (req, admin, { connections }) => {
      const id = routeId(req);
      const { limit } = query(req, auditQuery, ['limit']);
      return json(200, { entries: await connections.audit(admin, id, limit) });
    }),
  },
  {
    kind: 'http',
    name: 'connections-reauthorize',
    methods: ['POST'],
    route: 'connections/{id}/reauthorize',
    handler: adminRoute(appContext, async (req, admin, { connections }) => json(200, await connections.reauthorize(admin, routeId(req)))),
  },
  {
    kind: 'http',
    name: 'connections-test',
    methods: ['POST'],
    route: 'connections/{id}/test',
    handler: adminRoute(appContext, async (req, admin, { connections }) => json(200, await connections.test(admin, routeId(req)))),
  },
];

import type { HttpRequest, InvocationContext } from '@azure/functions';
import { z } from 'zod';
import { appContext } from '../src/app-context';
import { toConnectionView } from '../src/connections/connection';
import { connectionReadyPage, signInRefusedPage } from '../src/connections/sign-in-pages';
import { adminRoute, safeMessage } from '../src/http/admin-route';
import { readJson, routeId } from '../src/http/request';
import { html, json, noContent } from '../src/http/responses';
import type { HttpFunction } from './registry';

const displayName = z.string().trim().min(1).max(128);
const authorizeBody = z.strictObject({ displayName: displayName.optional() });
const updateBody = z
  .strictObject({ displayName: displayName.optional(), isDefault: z.boolean().optional() })
  .refine((b) => b.displayName !== undefined || b.isDefault !== undefined, { message: 'Give displayName and/or isDefault.' });

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
    handler: adminRoute(appContext, async (_req, admin, { connections }) =>
      json(200, { connections: (await connections.list(admin)).map(toConnectionView) }),
    ),
  },
  {
    kind: 'http',
    name: 'connections-get',
    methods: ['GET'],
    route: 'connections/{id}',
    handler: adminRoute(appContext, async (req, admin, { connections }) => json(200, toConnectionView(await connections.get(admin, routeId(req))))),
  },
  {
    kind: 'http',
    name: 'connections-update',
    methods: ['PATCH'],
    route: 'connections/{id}',
    handler: adminRoute(appContext, async (req, admin, { connections }) => {
      const id = routeId(req);
      const body = await readJson(req, updateBody);
      return json(200, toConnectionView(await connections.update(admin, id, body)));
    }),
  },
  {
    kind: 'http',
    name: 'connections-delete',
    methods: ['DELETE'],
    route: 'connections/{id}',
    handler: adminRoute(appContext, async (req, admin, { connections }) => {
      await connections.delete(admin, routeId(req));
      return noContent();
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

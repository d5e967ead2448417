/** Shared by the action tests: the real local identity provider, the Graph stand-in and an "attacker". */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ActionInvocation } from '../../src/actions/action';
import { graphSession, type GraphSessionOptions } from '../../src/actions/graph-session';
import type { GraphRetryPolicy } from '../../src/actions/graph-client';
import type { ProductEvent } from '../../src/events/product-event';
import { GRAPH_AUDIENCE, TENANT_A, type LocalUser } from '../../src/local/identity-provider/directory';
import { mintLocalToken, startIdentityProvider, type LocalIdentityProvider } from '../../src/local/identity-provider/launch';
import { startGraphStandIn, type GraphItemChange, type GraphStandIn } from '../../src/local/graph-stand-in';

export interface CapturedRequest {
  method: string;
  url: string;
  authorization?: string;
}

/** A server that must never hear from us: anything it receives is a leak. */
export interface Attacker {
  url: string;
  host: string;
  requests: CapturedRequest[];
  close(): Promise<void>;
}

export async function startAttacker(): Promise<Attacker> {
  const requests: CapturedRequest[] = [];
  const server = http.createServer((req, res) => {
    requests.push({
      method: req.method ?? '',
      url: req.url ?? '',
      ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}),
    });
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"stolen":true}');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url: `http://${host}`,
    host,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

export interface ActionsFixture {
  idp: LocalIdentityProvider;
  graph: GraphStandIn;
  attacker: Attacker;
  changes: GraphItemChange[];
  tokenFor(user: LocalUser, extra?: { audience?: string; expiresInSeconds?: number }): Promise<string>;
  /** Waits asked for by the Graph client since the last reset (nobody actually waits). */
  sleeps: number[];
  policy: Partial<GraphRetryPolicy>;
  reset(): void;
  stop(): Promise<void>;
}

export async function startActionsFixture(): Promise<ActionsFixture> {
  const idp = await startIdentityProvider({ redirectUris: ['http://localhost/unused'] });
  const changes: GraphItemChange[] = [];
  const graph = await startGraphStandIn({ jwksUri: idp.jwksUri, issuer: idp.issuer, onItemChanged: (c) => changes.push(c) });
  const attacker = await startAttacker();
  const sleeps: number[] = [];
  const tokens = new Map<string, string>();
  return {
    idp,
    graph,
    attacker,
    changes,
    sleeps,
    policy: {
      timeoutMs: 5_000,
      sleep: async (ms) => {
        sleeps.push(ms);
      },
    },
    async tokenFor(user, extra = {}) {
      const key = JSON.stringify([user.username, extra]);
      const cached = tokens.get(key);
      if (cached && extra.expiresInSeconds === undefined) return cached;
      const { access_token } = await mintLocalToken(idp.url, {
        username: user.username,
        audience: extra.audience ?? GRAPH_AUDIENCE,
        ...extra,
      });
      tokens.set(key, access_token);
      return access_token;
    },
    reset() {
      graph.reset();
      attacker.requests.length = 0;
      changes.length = 0;
      sleeps.length = 0;
    },
    async stop() {
      await Promise.allSettled([graph.close(), attacker.close()]);
      await idp.stop();
    },
  };
}

export const SITE_ID = 'contoso.sharepoint.com,2c3f5f59-0000-4000-8000-000000000001,8a1b2c3d-0000-4000-8000-000000000002';
export const LIST_ID = 'f1e2d3c4-0000-4000-8000-000000000003';

export function productEvent(overrides: Partial<ProductEvent> = {}): ProductEvent {
  return {
    id: 'evt-1',
    type: 'ItemUpdated',
    tenantId: TENANT_A.id,
    occurredAt: '2025-01-02T03:04:05Z',
    subject: { siteId: SITE_ID, listId: LIST_ID, itemId: '42' },
    data: { Stage: 'Draft', amount: 1250, requester: 'requester@contoso.test', tags: ['a', 'b'] },
    ...overrides,
  };
}

export function invocation(
  fixture: ActionsFixture,
  accessToken: string,
  inputs: Record<string, unknown>,
  extra: Partial<GraphSessionOptions> & { event?: ActionInvocation['event'] } = {},
): ActionInvocation {
  const { event, ...session } = extra;
  return {
    graph: graphSession({
      graphBaseUrl: fixture.graph.url,
      accessToken,
      idempotencyKey: 'run-1:step-1',
      causedBy: { runId: 'run-1', processId: 'proc-1', depth: 1 },
      policy: fixture.policy,
      ...session,
    }),
    event: event ?? productEvent(),
    inputs,
  };
}

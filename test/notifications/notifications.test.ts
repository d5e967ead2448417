/**
 * Admins are told when a connection needs them, end to end on the local stack: the revoked grant is found dead by a
 * connection test, the status change goes through the outbox to `connection-events`, the `connection-events-notify`
 * function mails the tenant's recipients through the Graph stand-in's `POST /me/sendMail` as another active
 * connection (the one named in the settings is the dead one), once per message id.
 */
import { InvocationContext } from '@azure/functions';
import { randomUUID } from 'node:crypto';
import { functionDefinitions } from '../../functions/definitions';
import type { ServiceBusFunction } from '../../functions/registry';
import type { ConnectionView } from '../../src/connections/connection';
import { CONTOSO_SVC_APPROVALS, CONTOSO_SVC_WORKPOINT } from '../../src/local/identity-provider/directory';
import type { SentMail } from '../../src/local/graph-stand-in';
import { authorizeConnection, observeConnectionEvents, type ConnectionNotice } from '../support/connections';
import { signIn } from '../support/sign-in';
import { startTestStack, type TestStack } from '../support/test-stack';

let stack: TestStack;
let notices: ConnectionNotice[];
let workpoint: ConnectionView;
let approvals: ConnectionView;
const recipients = ['it-admins@contoso.example', 'ops@contoso.example'];

beforeAll(async () => {
  stack = await startTestStack();
  notices = observeConnectionEvents(stack);
  workpoint = await authorizeConnection(stack, CONTOSO_SVC_WORKPOINT, 'WorkPoint');
  approvals = await authorizeConnection(stack, CONTOSO_SVC_APPROVALS, 'Approvals');
});
afterAll(async () => {
  await stack?.stop();
});

/** The local Graph's mailbox as served on `_local/mail` (what the product's admins would receive). */
async function mailbox(): Promise<SentMail[]> {
  const res = await fetch(`${stack.graph.url}/_local/mail`);
  expect(res.status).toBe(200);
  return ((await res.json()) as { mail: SentMail[] }).mail;
}

async function mailWithin(ms: number, count: number): Promise<SentMail[]> {
  const until = Date.now() + ms;
  for (;;) {
    const mail = stack.graph.mail;
    if (mail.length >= count || Date.now() > until) return [...mail];
    await new Promise((r) => setTimeout(r, 50));
  }
}

const notify = () =>
  functionDefinitions.find((f): f is ServiceBusFunction => f.kind === 'serviceBus' && f.name === 'connection-events-notify')!;

describe('settings', () => {
  test('an admin reads and sets who is mailed, and as which connection', async () => {
    expect((await stack.api('settings/notifications')).json).toEqual({ recipients: [], sendAs: null });
    const put = await stack.api('settings/notifications', {
      method: 'PUT',
      body: {
        recipients: [...recipients, 'IT-Admins@contoso.example'],
        sendAs: workpoint.id,
        pageUrl: 'https://portal.contoso.example/connections',
      },
    });
    expect(put.status).toBe(200);
    const expected = { recipients, sendAs: workpoint.id, pageUrl: 'https://portal.contoso.example/connections' };
    expect(put.json).toEqual(expected);
    expect((await stack.api('settings/notifications')).json).toEqual(expected);
  });

  test('bad settings are refused with the problem named, and change nothing', async () => {
    const unknown = await stack.api('settings/notifications', { method: 'PUT', body: { recipients, sendAs: randomUUID() } });
    expect(unknown.status).toBe(422);
    expect(unknown.json.error.details).toEqual([{ path: 'sendAs', message: expect.stringMatching(/no connection/) }]);
    const notMail = await stack.api('settings/notifications', { method: 'PUT', body: { recipients: ['not an address'], sendAs: null } });
    expect(notMail.status).toBe(400);
    expect(notMail.json.error.details[0].path).toMatch(/recipients/);
    const noToken = await stack.api('settings/notifications', { token: null });
    expect(noToken.status).toBe(401);
    expect((await stack.api('settings/notifications')).json.sendAs).toBe(workpoint.id);
  });
});

describe('a connection dies', () => {
  test('revoked sessions + a connection test: a mail names the connection within seconds, sent as another connection', async () => {
    const before = stack.graph.mail.length;
    const revoke = await fetch(`${stack.graph.url}/_local/revoke-sessions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: CONTOSO_SVC_WORKPOINT.username }),
    });
    expect(revoke.status).toBeLessThan(300);
    const test = await stack.api(`connections/${workpoint.id}/test`, { method: 'POST' });
    expect(test.json).toMatchObject({ ok: false, status: 'needs_reauth' });

    const mail = (await mailWithin(5000, before + 1)).slice(before);
    expect(mail).toHaveLength(1);
    expect(mail[0]).toMatchObject({
      // WorkPoint is the settings' sender, but it is the dead one: Approvals sends.
      from: expect.objectContaining({ username: CONTOSO_SVC_APPROVALS.username }),
      to: recipients,
      subject: 'Connection WorkPoint needs to be re-authorized',
    });
    expect(mail[0].content).toContain(`"WorkPoint" (${CONTOSO_SVC_WORKPOINT.username})`);
    expect(mail[0].content).toContain('Re-authorize');
    expect(mail[0].content).toContain(`https://portal.contoso.example/connections#connections/${workpoint.id}`);
    expect(mail[0].content).not.toMatch(/eyJ|refresh_token|access_token/);
    expect(await mailbox()).toEqual(expect.arrayContaining([expect.objectContaining({ subject: mail[0].subject })]));
  });

  test('a second change of the same connection sends one more mail; a redelivered message none', async () => {
    const before = stack.graph.mail.length;
    const res = await stack.api(`connections/${workpoint.id}/reauthorize`, { method: 'POST' });
    const { redirectUrl } = await signIn(res.json.authorizeUrl, CONTOSO_SVC_WORKPOINT.username);
    expect((await stack.get(redirectUrl)).status).toBe(200);
    const mail = (await mailWithin(5000, before + 1)).slice(before);
    expect(mail.map((m) => [m.subject, m.from.username])).toEqual([
      // Active again, WorkPoint sends as the settings say.
      ['Connection WorkPoint works again', CONTOSO_SVC_WORKPOINT.username],
    ]);

    // The host redelivers a message (a lock lost after the mail went out): the notifier finds it mailed.
    const redelivered = notices.find((n) => n.body.connectionId === workpoint.id && n.body.to === 'needs_reauth')!;
    const lines: string[] = [];
    const context = new InvocationContext({
      invocationId: randomUUID(),
      functionName: 'connection-events-notify',
      triggerMetadata: { messageId: redelivered.messageId, deliveryCount: 2 },
      logHandler: (_level, ...args) => lines.push(args.join(' ')),
    });
    await notify().handler(redelivered.body, context);
    await new Promise((r) => setTimeout(r, 300));
    expect(stack.graph.mail.length).toBe(before + 1);
    expect(lines.join('\n')).toMatch(/already sent/);
  });

  test('with no active connection left, the message is not completed (retried, then dead-lettered for the alert)', async () => {
    const notice = { ...notices.find((n) => n.body.connectionId === workpoint.id)! };
    const connections = stack.internals.connectionRepository;
    await connections.patch(workpoint.account.tenantId, workpoint.id, { status: 'needs_reauth' });
    await connections.patch(approvals.account.tenantId, approvals.id, { status: 'needs_reauth' });
    const context = new InvocationContext({
      invocationId: randomUUID(),
      functionName: 'connection-events-notify',
      triggerMetadata: { messageId: `${notice.messageId}-other`, deliveryCount: 1 },
      logHandler: () => undefined,
    });
    await expect(notify().handler(notice.body, context)).rejects.toThrow(/No connection of tenant .* could send/);
  });
});

/**
 * The API registration's credential (API_CLIENT_ID performs On-Behalf-Of for user processes) missing, unresolved or
 * refused: the app still starts, connections and system processes work, and only the user routes answer 503 with the
 * reason. A refused credential raises the application-credentials alert naming API_CLIENT_ID, once per period, rather
 * than leaving user steps to retry quietly.
 */
import { queueNames } from '../../src/config/queues';
import type { ApplicationCredentialsInvalid } from '../../src/tokens/application-credentials-alert';
import { CONTOSO_SVC_WORKPOINT, CONTOSO_USER, LOCAL_API_CLIENT_ID } from '../../src/local/identity-provider/directory';
import { mintLocalToken } from '../../src/local/identity-provider/launch';
import { authorizeConnection } from '../support/connections';
import { saveAndPublish } from '../support/runs';
import { startTestStack, type TestStack } from '../support/test-stack';

const userProcess = {
  name: 'Change request',
  kind: 'user',
  steps: [{ id: 'note', type: 'action', action: 'updateFields', inputs: { fields: { Comment: 'hello' } } }],
};
const subject = { siteId: 'contoso.sharepoint.com,site-1', listId: 'requests', itemId: '11' };

async function withStack(env: Record<string, string>, check: (stack: TestStack) => Promise<void>): Promise<void> {
  const stack = await startTestStack({ env });
  try {
    await check(stack);
  } finally {
    await stack.stop();
  }
}

/** Connections still work: a sign-in and a refresh through the sign-in registration. */
async function expectConnectionsWork(stack: TestStack): Promise<void> {
  const connection = await authorizeConnection(stack, CONTOSO_SVC_WORKPOINT, 'WorkPoint');
  const test = await stack.api(`connections/${connection.id}/test`, { method: 'POST' });
  expect(test.json).toMatchObject({ ok: true });
}

async function startAsUser(stack: TestStack) {
  await saveAndPublish(stack, 'change-request', userProcess);
  const { access_token } = await mintLocalToken(stack.identityProvider.url, { username: CONTOSO_USER.username });
  stack.secretsSeen.set(access_token, 'user access token');
  return stack.api('processes/change-request/runs', { method: 'POST', token: access_token, body: { subject } });
}

function credentialAlerts(stack: TestStack): ApplicationCredentialsInvalid[] {
  const alerts: ApplicationCredentialsInvalid[] = [];
  const send = stack.bus.send.bind(stack.bus);
  stack.bus.send = async (queue, messages) => {
    await send(queue, messages);
    if (queue === queueNames.connectionEvents)
      for (const m of messages) if ((m.body as { type?: string }).type === 'ApplicationCredentialsInvalid') alerts.push(m.body as never);
  };
  return alerts;
}

it('an unresolved API_CLIENT_SECRET reference stops the user routes only, naming the setting', async () => {
  await withStack(
    { API_CLIENT_SECRET: '@Microsoft.KeyVault(SecretUri=https://kv.vault.azure.net/secrets/api-client-secret)' },
    async (stack) => {
      await expectConnectionsWork(stack);
      const res = await startAsUser(stack);
      expect(res.status).toBe(503);
      expect(res.json.error.message).toContain('User processes are not configured');
      expect(res.json.error.message).toContain('API_CLIENT_SECRET is an unresolved Key Vault reference');
    },
  );
}, 120_000);

it('no credential for API_CLIENT_ID (secret mode without a secret): 503 on user routes with what to set', async () => {
  await withStack({ API_CLIENT_CREDENTIAL: 'secret', API_CLIENT_SECRET: '' }, async (stack) => {
    await expectConnectionsWork(stack);
    const res = await startAsUser(stack);
    expect(res.status).toBe(503);
    expect(res.json.error.message).toMatch(/API_CLIENT_ID\) has no credential: API_CLIENT_SECRET is not set/);
    expect(res.json.error.message).toContain('API_CLIENT_CREDENTIAL');
  });
}, 120_000);

it('a refused API credential answers 503 with the reason and raises the alert naming API_CLIENT_ID', async () => {
  await withStack({ API_CLIENT_SECRET: 'not-the-api-registrations-secret' }, async (stack) => {
    const alerts = credentialAlerts(stack);
    await expectConnectionsWork(stack);
    const res = await startAsUser(stack);
    expect(res.status).toBe(503);
    expect(res.json.error.message).toContain('AADSTS7000215');
    expect(alerts).toEqual([
      expect.objectContaining({
        type: 'ApplicationCredentialsInvalid',
        clientId: LOCAL_API_CLIENT_ID,
        setting: 'API_CLIENT_ID',
        aadsts: 7000215,
      }),
    ]);
    expect(stack.logs.some((l) => l.includes(`ApplicationCredentialsInvalid (API_CLIENT_ID ${LOCAL_API_CLIENT_ID})`))).toBe(true);
  });
}, 120_000);

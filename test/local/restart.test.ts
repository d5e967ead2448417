import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CONTOSO_SVC_WORKPOINT } from '../../src/local/identity-provider/directory';
import { authorizeConnection, getConnection, listConnections } from '../support/connections';
import { startTestStack, type TestStack } from '../support/test-stack';

const freePort = () =>
  new Promise<number>((resolve) => {
    const s = createServer().listen(0, () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });

/**
 * What README says about a restart of `npm start`: Tables and the vault are kept on disk (dataDir), the identity
 * provider's grants are not. Same ports and data as `npm start` keeps them, two stacks one after the other.
 */
test('after a restart of the local instance, a stored connection lists as active until its refresh token is first used (Test, a step, keep-alive), then needs_reauth', async () => {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'connections-restart-'));
  const options = { dataDir, tablesPrefix: `r${Date.now() % 1e6}`, port: await freePort(), identityProvider: { port: await freePort() } };
  let stack: TestStack | undefined;
  try {
    stack = await startTestStack(options);
    const made = await authorizeConnection(stack, CONTOSO_SVC_WORKPOINT);
    await stack.stop();

    stack = await startTestStack(options);
    expect((await listConnections(stack)).map((c) => [c.id, c.status])).toEqual([[made.id, 'active']]);
    // Test refreshes (it proves the grant, not a cached access token): the new provider never issued that refresh
    // token, so it answers invalid_grant and the connection needs re-authorization from then on.
    expect((await stack.api(`connections/${made.id}/test`, { method: 'POST' })).json).toMatchObject({ ok: false, status: 'needs_reauth' });
    expect((await getConnection(stack, made.id)).status).toBe('needs_reauth');
  } finally {
    await stack?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}, 120_000);

import type { LocalUser } from '../../src/local/identity-provider/directory';
import { signIn } from './sign-in';
import type { TestStack } from './test-stack';

/** Authorizes a connection the way an admin does: authorize, sign in as `user`, open the callback. */
export async function authorizeConnection(stack: TestStack, user: LocalUser, displayName?: string) {
  const start = await stack.api('connections/authorize', { method: 'POST', body: displayName ? { displayName } : {} });
  if (start.status !== 200) throw new Error(`authorize answered ${start.status}`);
  const { redirectUrl } = await signIn(start.json.authorizeUrl, user.username);
  const page = await stack.get(redirectUrl);
  if (page.status !== 200) throw new Error(`callback answered ${page.status}`);
  const list = await stack.api('connections');
  return (list.json.connections as any[]).find((c) => c.account.objectId === user.objectId);
}

// `npm run local:token [username]`: prints an access token for this API from the running local instance, for any local
// user (default the admin; `user@contoso.test` gets an ordinary user's token, without the admin role).
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { localDataDir } from './certs';
import { CONTOSO_ADMIN } from './identity-provider/directory';
import { mintLocalToken } from './identity-provider/launch';

async function main() {
  const username = process.argv[2] ?? CONTOSO_ADMIN.username;
  let instance: { identityProviderUrl: string };
  try {
    instance = JSON.parse(await readFile(path.join(localDataDir(), 'instance.json'), 'utf8'));
  } catch {
    throw new Error('No local instance found: run `npm start` first (in another terminal).');
  }
  const { access_token } = await mintLocalToken(instance.identityProviderUrl, { username });
  process.stdout.write(`${access_token}\n`);
}

main().catch((e) => {
  console.error((e as Error).message);
  process.exit(1);
});

// `npm run local:token [username]`: prints an access token for this API from the running local instance, for any local
// user (default the admin; `user@contoso.test` gets an ordinary user's token, without the admin role).
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { localDataDir } from './certs';
import { CONTOSO_ADMIN } from './identity-provider/directory';
import { mintLocalToken } from './identity-provider/launch';

const instanceFile = () => path.join(localDataDir(), 'instance.json');

/**
 * Where the running instance's identity provider is: PORT + 1 when PORT is set (as `npm start` does), else what the
 * last `npm start` recorded in .local/instance.json (any port it was started on).
 */
async function identityProviderUrl(): Promise<string | undefined> {
  const port = process.env.PORT?.trim();
  if (port) return `https://localhost:${Number(port) + 1}`;
  try {
    return (JSON.parse(await readFile(instanceFile(), 'utf8')) as { identityProviderUrl?: string }).identityProviderUrl;
  } catch {
    return undefined;
  }
}

/** Nothing listens there (refused, reset, unknown host): the instance is not running, whatever the certificates. */
const notListening = (e: unknown): boolean => {
  const code = (e as { cause?: { cause?: { code?: string }; code?: string } })?.cause;
  return ['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'EHOSTUNREACH'].includes(code?.code ?? code?.cause?.code ?? '');
};

async function main() {
  const username = process.argv[2] ?? CONTOSO_ADMIN.username;
  const url = await identityProviderUrl();
  if (!url) throw new Error('No local instance found: run `npm start` first (in another terminal).');
  try {
    const { access_token } = await mintLocalToken(url, { username });
    process.stdout.write(`${access_token}\n`);
  } catch (e) {
    if (!notListening(e)) throw e;
    const where = process.env.PORT ? `PORT=${process.env.PORT}` : `recorded in ${path.relative(process.cwd(), instanceFile())}`;
    throw new Error(`No local instance is running at ${url} (${where}): run \`npm start\` first (in another terminal).`);
  }
}

main().catch((e) => {
  console.error((e as Error).message);
  process.exit(1);
});

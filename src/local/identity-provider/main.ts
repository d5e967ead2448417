/**
 * Child-process entry of the local identity provider (local instance and tests only).
 *
 *   node dist/src/local/identity-provider/main.js --port 0 --redirect-uris http://localhost:7071/api/connections/callback
 *
 * Options (flag or environment variable): --port / IDP_PORT, --redirect-uris / IDP_REDIRECT_URIS (comma list),
 * --portal-redirect-uris / IDP_PORTAL_REDIRECT_URIS, --access-token-ttl / IDP_ACCESS_TOKEN_TTL_SECONDS,
 * --rotate-refresh-tokens / IDP_ROTATE_REFRESH_TOKENS (true|false),
 * --api-token-version / IDP_API_TOKEN_VERSION (1|2: the API registration's requestedAccessTokenVersion).
 * Prints one JSON line `{"ready":true,...}` on stdout when listening; everything else goes to stderr.
 */
import { fstatSync } from 'node:fs';
import { ensureLocalCertificate } from '../certs';
import { startIdentityProviderServer } from './server';

// The parent parses stdout for the ready line: keep library chatter off it.
for (const method of ['log', 'info', 'debug'] as const) console[method] = console.error;

function option(flag: string, env: string): string | undefined {
  const args = process.argv.slice(2);
  for (let i = 0; i < args.length; i++) {
    if (args[i] === `--${flag}`) return args[i + 1];
    if (args[i].startsWith(`--${flag}=`)) return args[i].slice(flag.length + 3);
  }
  return process.env[env];
}

const list = (v: string | undefined): string[] | undefined =>
  v === undefined
    ? undefined
    : v
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);

function integer(v: string | undefined, name: string): number | undefined {
  if (v === undefined || v === '') return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${name} must be a non-negative integer, got ${v}`);
  return n;
}

function bool(v: string | undefined, name: string): boolean | undefined {
  if (v === undefined || v === '') return undefined;
  if (/^(true|1)$/i.test(v)) return true;
  if (/^(false|0)$/i.test(v)) return false;
  throw new Error(`${name} must be true or false, got ${v}`);
}

function tokenVersion(v: string | undefined): 1 | 2 | undefined {
  if (v === undefined || v === '') return undefined;
  if (v === '1' || v === '2') return Number(v) as 1 | 2;
  throw new Error(`api-token-version must be 1 or 2, got ${v}`);
}

async function main(): Promise<void> {
  const redirectUris = list(option('redirect-uris', 'IDP_REDIRECT_URIS'));
  if (!redirectUris?.length) throw new Error('--redirect-uris (or IDP_REDIRECT_URIS) is required');
  const { cert, key } = await ensureLocalCertificate();
  const server = await startIdentityProviderServer({
    cert,
    key,
    redirectUris,
    portalRedirectUris: list(option('portal-redirect-uris', 'IDP_PORTAL_REDIRECT_URIS')),
    port: integer(option('port', 'IDP_PORT'), 'port'),
    accessTokenTtlSeconds: integer(option('access-token-ttl', 'IDP_ACCESS_TOKEN_TTL_SECONDS'), 'access-token-ttl'),
    rotateRefreshTokens: bool(option('rotate-refresh-tokens', 'IDP_ROTATE_REFRESH_TOKENS'), 'rotate-refresh-tokens'),
    apiAccessTokenVersion: tokenVersion(option('api-token-version', 'IDP_API_TOKEN_VERSION')),
  });

  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    const timer = setTimeout(() => process.exit(0), 2000);
    timer.unref();
    server.close().finally(() => process.exit(0));
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  // The parent holds our stdin pipe: when it goes away (even killed), so do we. A terminal or
  // /dev/null stdin is not a parent's pipe, so it is not watched.
  const stdin = fstatSync(0);
  if (stdin.isFIFO() || stdin.isSocket()) {
    process.stdin.on('end', stop).on('close', stop).on('error', stop).resume();
  }

  process.stdout.write(
    `${JSON.stringify({ ready: true, url: server.url, issuer: server.issuer, v1IssuerTemplate: server.v1IssuerTemplate, authority: server.authority, jwksUri: server.jwksUri })}\n`,
  );
}

main().catch((e: unknown) => {
  console.error('local identity provider failed to start:', e);
  process.exit(1);
});

/**
 * jose is loaded when the first caller's token is verified, not when the app context builds its authenticators:
 * every function builds that context, and queue and timer functions never verify a caller (a cold start of theirs
 * should not load jose). Checked in a fresh `node` on the tsc output (`npm test` builds it first), where nothing else
 * has loaded jose yet.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';

const authModule = path.join(__dirname, '..', '..', 'dist', 'src', 'http', 'admin-auth.js');

test('building the authenticators loads no jose; the first token to verify does', () => {
  const script = `
    const auth = require(${JSON.stringify(authModule)});
    const loaded = () => Object.keys(require.cache).some((f) => /[\\\\/]node_modules[\\\\/]jose[\\\\/]/.test(f));
    const settings = {
      ADMIN_TOKEN_ISSUER: 'https://login.microsoftonline.com/{tenantid}/v2.0',
      ADMIN_TOKEN_ISSUER_V1: 'https://sts.windows.net/{tenantid}/',
      ADMIN_TOKEN_JWKS_URI: 'https://127.0.0.1:9/keys',
      ADMIN_TOKEN_AUDIENCE: 'api://connections',
      ADMIN_TOKEN_SCOPE: 'Connections.Manage',
      ADMIN_ROLE: 'Connections.Admin',
    };
    const verify = auth.createCallerAuthenticator(settings);
    auth.createAdminAuthenticator(settings);
    const afterBuild = loaded();
    verify('Bearer a.b.c').catch(() => undefined).then(() => console.log(JSON.stringify({ afterBuild, afterVerify: loaded() })));
  `;
  const child = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' });
  expect(child.stderr).toBe('');
  expect(JSON.parse(child.stdout.trim())).toEqual({ afterBuild: false, afterVerify: true });
});

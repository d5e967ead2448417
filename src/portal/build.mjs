// Builds the Connections page into dist/portal, a static site root:
//   dist/portal/index.html, dist/portal/portal/{app.js, app.js.map, app.css, config.example.json}
// Deploy the folder as is and add portal/config.json (see config.example.json). `npm run build:portal`.
import { build } from 'esbuild';
import { copyFile, mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..', '..');
const out = path.join(root, 'dist', 'portal');
const assets = path.join(out, 'portal');

await rm(out, { recursive: true, force: true });
await mkdir(assets, { recursive: true });
await build({
  entryPoints: [path.join(here, 'main.ts')],
  outfile: path.join(assets, 'app.js'),
  bundle: true,
  format: 'iife',
  platform: 'browser',
  target: ['es2022', 'chrome109', 'firefox115', 'safari16'],
  sourcemap: 'linked',
  minify: process.env.PORTAL_MINIFY === 'true',
  legalComments: 'none',
  logLevel: 'warning',
  tsconfig: path.join(root, 'tsconfig.json'),
});
await copyFile(path.join(here, 'app.css'), path.join(assets, 'app.css'));
await copyFile(path.join(here, 'index.html'), path.join(out, 'index.html'));
await writeFile(
  path.join(assets, 'config.example.json'),
  `${JSON.stringify(
    {
      authority: 'https://login.microsoftonline.com/organizations/v2.0',
      clientId: '<the portal app registration (SPA platform) client id>',
      scope: 'openid profile api://<connections-api-client-id>/access_as_user',
      apiBase: 'https://<function app host>/api',
    },
    null,
    2,
  )}\n`,
);
console.log(`Connections page built in ${path.relative(root, out)}`);

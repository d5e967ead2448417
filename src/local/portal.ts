/**
 * Serves the Connections page (built by `npm run build:portal` into dist/portal) from the local
 * instance: `/` is the page, `/portal/*` its script and styles, and `/portal/config.json` tells it
 * the authority, client id, scope and API base of this instance. Local/test only; in Azure the
 * page is a static site (dist/portal) with its own config.json.
 */
import { readFile } from 'node:fs/promises';
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import path from 'node:path';
import { LOCAL_API_AUDIENCE, LOCAL_PORTAL_CLIENT_ID } from './identity-provider/directory';
import { repoRoot } from './identity-provider/launch';

/** Same shape as src/portal/config.ts (the page's side of this contract). */
export interface PortalConfig {
  authority: string;
  clientId: string;
  scope: string;
  apiBase: string;
  redirectUri: string;
}

/**
 * The page signs the admin in with the public client and asks for the API's delegated permission,
 * so the provider issues an access token for the API audience (with `roles`), not for Graph.
 */
export const localPortalConfig = (baseUrl: string, identityProviderIssuer: string): PortalConfig => ({
  authority: identityProviderIssuer,
  clientId: LOCAL_PORTAL_CLIENT_ID,
  scope: `openid profile ${LOCAL_API_AUDIENCE}/access_as_user`,
  apiBase: `${baseUrl}/api`,
  redirectUri: portalRedirectUri(baseUrl),
});

/** The page's own URL: where the provider sends the admin back with the code. */
export const portalRedirectUri = (baseUrl: string): string => `${baseUrl}/`;

export const portalDistDir = (): string => path.join(repoRoot(), 'dist', 'portal');

/** No inline script or style; the page talks only to itself (API) and to the identity provider. */
export function portalContentSecurityPolicy(config: PortalConfig | undefined): string {
  const connect = ["'self'", ...(config ? [new URL(config.authority).origin, new URL(config.apiBase).origin] : [])];
  return [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    `connect-src ${[...new Set(connect)].join(' ')}`,
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
}

const ASSETS: Record<string, { file: string; type: string }> = {
  '/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/index.html': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/portal/app.js': { file: 'portal/app.js', type: 'text/javascript; charset=utf-8' },
  '/portal/app.js.map': { file: 'portal/app.js.map', type: 'application/json; charset=utf-8' },
  '/portal/app.css': { file: 'portal/app.css', type: 'text/css; charset=utf-8' },
};

/**
 * The local host's `fallback` listener (any non-API path). `config()` is read per request, since the
 * identity provider's URL is known only after the host is listening.
 */
export function createPortalListener(config: () => PortalConfig | undefined, options: { distDir?: string } = {}): RequestListener {
  const distDir = options.distDir ?? portalDistDir();
  return (req: IncomingMessage, res: ServerResponse) => {
    const send = (status: number, type: string, body: string | Buffer, extra: Record<string, string> = {}) => {
      res.writeHead(status, {
        'Content-Type': type,
        'Cache-Control': 'no-store',
        'X-Content-Type-Options': 'nosniff',
        'Referrer-Policy': 'no-referrer',
        'Cross-Origin-Resource-Policy': 'same-origin',
        ...extra,
      });
      res.end(req.method === 'HEAD' ? undefined : body);
    };
    const { pathname } = new URL(req.url ?? '/', 'http://localhost');
    if (req.method !== 'GET' && req.method !== 'HEAD')
      return send(405, 'text/plain; charset=utf-8', 'Method not allowed', { Allow: 'GET, HEAD' });

    if (pathname === '/portal/config.json') {
      const value = config();
      if (!value)
        return send(
          503,
          'application/json; charset=utf-8',
          JSON.stringify({ error: { message: 'The local instance is still starting.' } }),
        );
      return send(200, 'application/json; charset=utf-8', JSON.stringify(value));
    }
    if (pathname === '/favicon.ico') return send(204, 'text/plain', '');
    const asset = ASSETS[pathname];
    if (!asset) return send(404, 'text/plain; charset=utf-8', 'Not found. The Connections page is at /, the API under /api/.');
    readFile(path.join(distDir, asset.file)).then(
      (body) =>
        send(
          200,
          asset.type,
          body,
          asset.file.endsWith('.html')
            ? { 'Content-Security-Policy': portalContentSecurityPolicy(config()), 'X-Frame-Options': 'DENY' }
            : {},
        ),
      () =>
        send(
          503,
          'text/plain; charset=utf-8',
          `The Connections page is not built (${path.join(distDir, asset.file)} is missing): run npm run build:portal.`,
        ),
    );
  };
}

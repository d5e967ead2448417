/** What the page needs to know about its environment, served next to it as `portal/config.json`. */
export interface PortalConfig {
  /** OpenID Connect issuer / authority, e.g. `https://login.microsoftonline.com/<tenant>/v2.0`. */
  authority: string;
  /** The portal's public client id (PKCE, no secret). */
  clientId: string;
  /** Space-separated scopes: must name the Connections API so the access token is issued for it. */
  scope: string;
  /** Base URL of the Connections API, ending in `/api`. */
  apiBase: string;
  /** The app role that makes a signed-in person an administrator (the API's ADMIN_ROLE); default `Connections.Admin`. */
  adminRole?: string;
  /** Redirect URI registered for the client; defaults to this page's URL without query or hash. */
  redirectUri?: string;
}

export async function loadConfig(url = 'portal/config.json'): Promise<PortalConfig> {
  const res = await fetch(url, { cache: 'no-store', credentials: 'same-origin' });
  if (!res.ok) throw new Error(`The page configuration (${url}) could not be loaded: HTTP ${res.status}.`);
  const value = (await res.json()) as Partial<PortalConfig>;
  for (const key of ['authority', 'clientId', 'scope', 'apiBase'] as const) {
    if (typeof value[key] !== 'string' || !value[key]) throw new Error(`The page configuration has no "${key}".`);
  }
  return { ...(value as PortalConfig), apiBase: value.apiBase!.replace(/\/+$/, '') };
}
